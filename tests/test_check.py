"""``python -m xloss check``: coverage of every public function, failures reported, CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import xloss
from xloss import _check
from xloss._check import CASES, CheckCase, Sample, compare, public_functions, register, run
from xloss._cli import main


def _broken_softplus(x):
    """softplus, off by 1e-3 everywhere but on NumPy: the kind of bug the report exists for."""
    out = xloss.special.softplus(x)
    return out if isinstance(x, np.ndarray) else out + 1e-3


BROKEN = CheckCase(
    "broken.softplus",
    lambda rng: [Sample("normal", (rng.standard_normal(8),))],
    reference=lambda x: np.logaddexp(0.0, x),
    reference_name="numpy.logaddexp",
    fn=_broken_softplus,
)


@pytest.fixture
def broken() -> Iterator[CheckCase]:
    register(BROKEN)
    yield BROKEN
    CASES.pop(BROKEN.function)


def _discovered(names: tuple[str, ...] = ("numpy", "array_api_strict", "torch")) -> tuple:
    return _check.discover(names)


def test_every_public_function_has_a_check_case() -> None:
    names, broken = public_functions()
    assert not broken
    assert {"special.logsumexp", "info.entropy"} <= set(names)
    without = sorted(set(names) - set(CASES))
    assert not without, f"public functions without a check case: {without}"


def test_coverage_walks_all_public_namespaces() -> None:
    names, _ = public_functions()
    for module, prefix in ((xloss.special, "special."), (xloss.info, "info.")):
        assert {prefix + n for n in module.__all__} <= set(names)
    metrics = getattr(xloss, "metrics", None)
    if metrics is not None:
        functions = [n for n in metrics.__all__ if not isinstance(getattr(metrics, n), type)]
        assert {"metrics." + n for n in functions} <= set(names)


def test_full_run_of_special_passes_with_scipy_references() -> None:
    report = run(functions=["special.*"], discovered=_discovered())
    assert report.ok, str(report)
    assert set(report.functions) == {"special." + n for n in xloss.special.__all__}
    columns = {r.backend for r in report.results}
    assert "numpy" in columns
    if importlib.util.find_spec("scipy") is not None:
        references = [r for r in report.results if r.backend == "reference"]
        assert references
        assert all(r.status == "PASS" for r in references)


def test_quick_runs_one_sample_in_float32() -> None:
    report = run(functions=["special.logsumexp"], quick=True, discovered=_discovered())
    assert report.ok, str(report)
    assert {r.dtype for r in report.results} == {"float32"}
    assert len(report.results) == len(report.backends)


def test_broken_function_is_reported(broken: CheckCase) -> None:
    report = run(functions=["broken.*"], discovered=_discovered())
    assert not report.ok
    failed = {(r.backend, r.dtype) for r in report.failed}
    passed = {(r.backend, r.dtype) for r in report.results if r.status == "PASS"}
    assert ("numpy", "float64") in passed  # equal to its own NumPy reference
    assert ("reference", "float64") in passed  # and to numpy.logaddexp
    others = [b for b in report.backends if b.name != "numpy"]
    for backend in others:
        assert (backend.name, backend.dtypes[0]) in failed
    assert all(r.error is not None and r.error > r.tolerance for r in report.failed)
    text = str(report)
    assert "broken.softplus" in text
    assert "FAILURES" in text
    assert "xloss check: FAIL" in text


def test_public_function_without_a_case_fails() -> None:
    case = CASES.pop("special.softplus")
    try:
        report = run(functions=["special.softplus"], discovered=_discovered(("numpy",)))
    finally:
        register(case)
    assert [(r.function, r.status, r.message) for r in report.results] == [
        ("special.softplus", "FAIL", "no check case")
    ]
    assert "no check case" in str(report)


def test_case_of_a_function_not_yet_in_xloss_is_missing_not_a_crash() -> None:
    register(CheckCase("not_yet_written_loss", lambda rng: [Sample("x", (np.ones(2),))]))
    try:
        report = run(functions=["not_yet_written_loss"], discovered=_discovered(("numpy",)))
    finally:
        CASES.pop("not_yet_written_loss")
    assert [r.status for r in report.results] == ["MISSING"]
    assert report.ok


def test_function_raising_is_a_failure_with_its_message() -> None:
    def raises_off_numpy(x):
        if not isinstance(x, np.ndarray):
            raise RuntimeError("boom")
        return x

    register(
        CheckCase("raises.identity", lambda rng: [Sample("x", (np.ones(2),))], fn=raises_off_numpy)
    )
    try:
        report = run(functions=["raises.*"], discovered=_discovered())
    finally:
        CASES.pop("raises.identity")
    if len(report.backends) == 1:
        pytest.skip("only NumPy is installed")
    assert report.failed
    assert all("RuntimeError: boom" in r.message for r in report.failed)


def test_result_in_the_wrong_library_or_dtype_fails() -> None:
    register(
        CheckCase(
            "wrong.library", lambda rng: [Sample("x", (np.ones(2),))], fn=lambda x: np.ones(2)
        )
    )
    register(
        CheckCase(
            "wrong.dtype",
            lambda rng: [Sample("x", (np.ones(2),))],
            fn=lambda x: x[..., None][..., 0] if x.dtype == np.float64 else np.ones(2),
        )
    )
    try:
        report = run(functions=["wrong.*"], dtypes=["float32"], discovered=_discovered())
    finally:
        CASES.pop("wrong.library")
        CASES.pop("wrong.dtype")
    failures = {(r.function, r.backend): r.message for r in report.failed}
    assert failures[("wrong.dtype", "numpy")] == "result dtype float64, expected float32"
    for backend in report.backends:
        if backend.library != "numpy":
            assert "not " + backend.library in failures[("wrong.library", backend.name)]


def test_compare_measures_in_eps_and_matches_nan_and_inf() -> None:
    err, _ = compare(np.array([1.0 + 2**-52]), np.array([1.0]), "float64")
    assert err == pytest.approx(1.0)
    err, _ = compare(np.array([1.0]), np.array([1.0 + 2**-20]), "float32")
    assert err == pytest.approx(2**-20 / 2**-23)
    assert compare(np.array([np.nan]), np.array([np.nan]), "float32")[0] == 0.0
    assert compare(np.array([np.nan]), np.array([1.0]), "float32")[0] == np.inf
    assert compare(np.array([np.inf]), np.array([-np.inf]), "float64")[0] == np.inf
    # a float64 reference beyond float16's range: inf is the right float16 answer
    assert compare(np.array([np.inf]), np.array([1e6]), "float16")[0] == 0.0
    assert compare(np.ones(2), np.ones(3), "float64")[0] == np.inf


def test_cli_json_and_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.json"
    code = main(
        [
            "check",
            "--quick",
            "--functions",
            "special.logsumexp,info.entropy",
            "--backends",
            "numpy,array_api_strict",
            "--json",
            str(path),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, out
    assert "special.logsumexp" in out
    assert "info.entropy" in out
    assert "xloss check: PASS" in out
    assert "[1/2]" in err  # progress goes to stderr
    data = json.loads(path.read_text())
    assert data["ok"] is True
    assert data["functions"] == ["special.logsumexp", "info.entropy"]
    assert {b["library"] for b in data["backends"]} <= {"numpy", "array_api_strict"}
    assert data["summary"]["FAIL"] == 0
    assert data["tolerance_eps"]["float32"] > 0
    row = data["results"][0]
    assert set(row) == {
        "function",
        "sample",
        "backend",
        "dtype",
        "status",
        "error",
        "tolerance",
        "message",
    }


def test_cli_rejects_unknown_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--backends", "tensorflow"]) == 2
    assert "tensorflow" in capsys.readouterr().err


def test_cli_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "check" in capsys.readouterr().out


def test_python_m_xloss_check_quick_fails_on_a_broken_function(tmp_path: Path) -> None:
    """The real command, in a fresh interpreter, with a broken function registered."""
    (tmp_path / "xloss_broken_case.py").write_text(
        textwrap.dedent("""
        import numpy as np
        import xloss
        from xloss._check import CheckCase, Sample, register

        def broken_softplus(x):
            out = xloss.special.softplus(x)
            return out if isinstance(x, np.ndarray) else out + 1e-3

        register(CheckCase(
            "broken.softplus",
            lambda rng: [Sample("normal", (rng.standard_normal(8),))],
            fn=broken_softplus,
        ))
    """)
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    done = subprocess.run(
        [sys.executable, "-m", "xloss", "check", "--quick", "--cases", "xloss_broken_case"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert rows["broken.softplus"].rstrip().endswith("FAIL"), done.stdout
    for name in public_functions()[0]:
        assert name in rows, f"{name} missing from the table"
    assert "xloss check: FAIL" in done.stdout


def test_jax_in_a_second_process_gives_the_same_rows() -> None:
    pytest.importorskip("jax")
    discovered = _check.discover(("numpy", "jax"))
    if not any(b.library == "jax" for b in discovered[0]):
        pytest.skip("JAX has no usable device")
    kwargs = {"functions": ["special.logsumexp"], "quick": True, "discovered": discovered}
    serial = run(**kwargs)
    parallel = run(jobs=2, **kwargs)
    assert parallel.ok, str(parallel)
    key = sorted((r.backend, r.dtype, r.sample, r.status) for r in serial.results)
    assert sorted((r.backend, r.dtype, r.sample, r.status) for r in parallel.results) == key
    assert any(r.backend.startswith("jax") for r in parallel.results)
