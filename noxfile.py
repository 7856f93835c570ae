"""nox sessions: tests per backend, the consistency report, benchmarks, lint, docs.

The machines this project runs on carry Python 3.11 only, so sessions run on the
interpreter nox itself runs on instead of naming versions. torch is pinned to 2.13.0:
that release has a local CPU build here, while an unpinned ``torch`` pulls a multi-GB
CUDA build. nox's default virtualenv backend (pip) is used on purpose: uv ignores the
local wheels.
"""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests(all)"]

TORCH = "torch==2.13.0"
BACKEND_PACKAGES = {
    "numpy": [],
    "array_api_strict": ["array-api-strict>=2.4"],
    "torch": [TORCH],
    "jax": ["jax[cpu]>=0.4.32"],
    "dask": ["dask[array]>=2024.8", "distributed>=2024.8"],
}
BACKEND_PACKAGES["all"] = [p for ps in BACKEND_PACKAGES.values() for p in ps]
CPU_BACKENDS = BACKEND_PACKAGES["all"]
TEST_EXTRAS = ["torchmetrics>=1.4"]  # the calibration-error reference; needs torch
# The boosting recipe runs for real with LightGBM (a small wheel); XGBoost's wheel pulls a
# multi-GB CUDA stack, so CI checks its objective against finite differences only.
BOOSTING = ["lightgbm>=4"]
# glibc malloc settings under which freed memory stays in the process (see benchmarks()).
RETAINED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}


def _install(session: nox.Session, extras: str, *packages: str) -> None:
    # torch first, pinned, so nothing later resolves an unpinned CUDA build.
    pinned = [p for p in packages if p.startswith("torch==")]
    if pinned:
        session.install(*pinned)
    session.install("-e", f".[{extras}]", *[p for p in packages if p not in pinned])


@nox.session(default=False)
@nox.parametrize("backend", list(BACKEND_PACKAGES), ids=list(BACKEND_PACKAGES))
def tests(session: nox.Session, backend: str) -> None:
    """Run the test suite (and the docstring examples) on one backend, or on all."""
    packages = list(BACKEND_PACKAGES[backend])
    if backend in ("torch", "all"):
        packages += TEST_EXTRAS
    if backend in ("numpy", "all"):
        packages += BOOSTING
    _install(session, "test", *packages)
    env = {"XLOSS_BACKENDS": "numpy" if backend == "numpy" else f"numpy,{backend}"}
    if backend == "all":
        env["XLOSS_BACKENDS"] = "all"
    session.run("pytest", *session.posargs, env=env)
    session.run(
        "pytest", "--doctest-modules", "src/xloss", "--ignore=src/xloss/_dispatch",
        "-p", "no:cacheprovider", env=env,
    )


@nox.session
def check(session: nox.Session) -> None:
    """The cross-backend consistency report on every installed CPU backend."""
    _install(session, "test", *CPU_BACKENDS, *TEST_EXTRAS)
    session.run("python", "-m", "xloss", "check", *session.posargs)


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Benchmarks against the native kernels in the same run; prints the ratio table."""
    _install(session, "bench", *CPU_BACKENDS)
    os.makedirs("benchmarks/results", exist_ok=True)
    # addopts without --import-mode=importlib: the benchmark files import helpers from
    # benchmarks/conftest.py, which importlib mode (plus pythonpath = tests) would resolve to
    # tests/conftest.py. Few, short rounds keep the whole session under 10 minutes on 2 cores.
    # The suite runs twice. First with RETAINED_MEMORY: freed memory stays in the process,
    # as with jemalloc/tcmalloc, so the kernels are compared. Then under glibc's default,
    # which hands large freed blocks back to the kernel, so the next allocation page-faults:
    # always for N x C tensors above 32 MiB (what most processes pay, and what blocked
    # kernels that allocate no N x C avoid), and for smaller ones depending on what ran
    # before (a benchmark's time then swings up to 2.5x between runs).
    pytest_args = [
        "pytest", "benchmarks", "-o", "addopts=-ra --strict-markers", "--benchmark-only",
        "--benchmark-group-by=group,param", "--benchmark-min-rounds=3",
        "--benchmark-max-time=0.3", "--benchmark-warmup=on", "-p", "no:cacheprovider",
        *session.posargs,
    ]
    session.run(
        *pytest_args, "--benchmark-json=benchmarks/results/latest.json", env=RETAINED_MEMORY
    )
    session.run(*pytest_args, "--benchmark-json=benchmarks/results/glibc-default.json")
    session.run(
        "python", "benchmarks/report.py", "benchmarks/results/latest.json",
        "--glibc", "benchmarks/results/glibc-default.json", "--docs", "docs/_generated",
    )


@nox.session(default=False)
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy --strict."""
    session.install("ruff>=0.6", "mypy>=1.11", "numpy", "array-api-compat>=1.15")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src")
    session.run("mypy", "src")


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors, and run every example in it."""
    _install(session, "docs,test", *CPU_BACKENDS)
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
    session.run("sphinx-build", "-W", "-b", "doctest", "docs", "docs/_build/doctest")
