"""xloss.testing: assert_close across libraries and devices, backend discovery, compare_backends."""

from __future__ import annotations

import numpy as np
import pytest

import xloss
from backends import Case
from xloss.testing import (
    DEFAULT_TOLERANCES,
    BackendInfo,
    assert_close,
    available_backends,
    compare_backends,
    missing_backends,
)

DATA = np.array([[0.5, -1.25, 3.0], [np.nan, np.inf, -np.inf]])


def test_assert_close_across_backends(case: Case, dtype: str) -> None:
    x = case.asarray(DATA, dtype)
    assert_close(x, DATA.astype(dtype))  # same dtype name in two libraries
    assert_close(DATA.astype(dtype), x)
    assert_close(x, x)


def test_assert_close_reports_worst_elements(case: Case, dtype: str) -> None:
    wrong = DATA.copy()
    wrong[0, 1] = -1.5
    wrong[0, 0] = 0.5 + 1e-3
    with pytest.raises(AssertionError) as info:
        assert_close(case.asarray(DATA, dtype), wrong.astype(dtype))
    message = str(info.value)
    assert "2 of 6 elements differ" in message
    lines = message.splitlines()
    assert "(0, 1)" in lines[2], message  # the largest difference comes first
    assert "(0, 0)" in lines[3], message


def test_assert_close_nan_and_inf_must_match(case: Case) -> None:
    x = case.asarray(np.array([np.nan, np.inf, 1.0]), "float32")
    with pytest.raises(AssertionError, match="1 of 3"):
        assert_close(x, np.array([1.0, np.inf, 1.0], dtype=np.float32))
    with pytest.raises(AssertionError, match="1 of 3"):
        assert_close(x, np.array([np.nan, -np.inf, 1.0], dtype=np.float32))


def test_assert_close_checks_dtype_and_shape(case: Case) -> None:
    x = case.asarray(np.ones(3), "float32")
    with pytest.raises(AssertionError, match="dtype mismatch: actual float32, desired float64"):
        assert_close(x, np.ones(3))
    with pytest.raises(AssertionError, match="shape mismatch"):
        assert_close(x, np.ones(4, dtype=np.float32))
    assert_close(x, [1.0, 1.0, 1.0])  # Python data takes the array's dtype


def test_assert_close_default_tolerances_follow_the_lower_precision() -> None:
    one = np.ones(2, dtype=np.float32)
    assert_close(one, one * np.float32(1 + 1e-6))
    with pytest.raises(AssertionError, match=r"rtol=1.3e-06"):
        assert_close(one, one * np.float32(1 + 1e-4))
    assert_close(one, one * np.float32(1 + 1e-4), rtol=1e-3)
    assert_close(np.ones(2), np.ones(2) + 1e-13)
    with pytest.raises(AssertionError, match=r"rtol=1e-12"):
        assert_close(np.ones(2), np.ones(2) + 1e-10)
    assert set(DEFAULT_TOLERANCES) == {"float64", "float32", "float16", "bfloat16"}


def test_assert_close_integers_are_exact() -> None:
    assert_close(np.arange(3), np.arange(3))
    with pytest.raises(AssertionError, match="exact"):
        assert_close(np.arange(3), np.array([0, 1, 3]))


def test_assert_close_never_mutates_and_accepts_autograd_tensors() -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = x * 2  # a non-leaf tensor with a graph
    assert_close(y, np.array([2.0, 4.0]))
    assert y.requires_grad
    assert x.grad is None
    neg = torch.tensor([1.0, -2.0]).neg()  # a lazily negated view
    assert_close(neg, np.array([-1.0, 2.0], dtype=np.float32))


def test_assert_close_bfloat16() -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 3.0], dtype=torch.bfloat16)
    assert_close(x, torch.tensor([1.0, 3.0078125], dtype=torch.bfloat16))  # one bf16 ulp
    with pytest.raises(AssertionError):
        assert_close(x, torch.tensor([1.0, 3.5], dtype=torch.bfloat16))


def test_available_backends_is_data() -> None:
    found = available_backends()
    assert found[0].name == "numpy"
    names = [b.name for b in found]
    assert len(set(names)) == len(names)
    for backend in found:
        assert isinstance(backend, BackendInfo)
        assert str(backend) == backend.name
        assert backend.dtypes
        assert set(backend.dtypes) <= set(DEFAULT_TOLERANCES)
        x = backend.asarray(np.array([0.25, -1.0]))
        assert str(x.dtype).rsplit(".", 1)[-1] == backend.dtypes[0]
        np.testing.assert_array_equal(backend.to_numpy(x), [0.25, -1.0])
        labels = backend.asarray(np.array([1, 2]))
        assert str(labels.dtype).rsplit(".", 1)[-1] == "int64"


def test_available_backends_filters_and_explains_missing() -> None:
    assert [b.name for b in available_backends(["numpy"])] == ["numpy"]
    for missing in missing_backends():
        assert missing.reason
        if missing.name in ("torch", "jax", "dask", "array_api_strict"):
            assert missing.hint.startswith('pip install "xloss[')


def test_array_api_strict_devices_are_distinct() -> None:
    pytest.importorskip("array_api_strict")
    found = {b.name: b for b in available_backends(["array_api_strict"])}
    assert {"array_api_strict", "array_api_strict:device1", "array_api_strict:no_float64"} <= set(
        found
    )
    assert found["array_api_strict:no_float64"].dtypes == ("float32",)
    x = found["array_api_strict:device1"].asarray(np.ones(2))
    assert "device1" in str(x.device)


def test_compare_backends_passes_for_xloss() -> None:
    report = compare_backends(
        xloss.special.logsumexp, np.linspace(-3.0, 3.0, 12).reshape(3, 4), axis=-1
    )
    assert report.ok, str(report)
    backends = {r.backend for r in report.results}
    assert backends == {b.name for b in available_backends()}
    text = str(report)
    assert "logsumexp" in text
    assert "PASS" in text


def test_compare_backends_finds_a_backend_specific_bug() -> None:
    def wrong_off_numpy(x):  # correct on NumPy only
        if isinstance(x, np.ndarray):
            return x * 2.0
        return x * 2.0 + 1e-3

    report = compare_backends(wrong_off_numpy, np.array([1.0, 2.0]))
    others = [b for b in available_backends() if b.name != "numpy"]
    if not others:
        pytest.skip("only NumPy is installed")
    assert not report.ok
    failed = {r.backend for r in report.failed}
    assert failed == {b.name for b in others}
    assert "FAIL" in str(report)


def test_compare_backends_checks_the_result_library() -> None:
    if len(available_backends()) < 2:
        pytest.skip("only NumPy is installed")
    report = compare_backends(lambda x: np.zeros(2), np.array([1.0, 2.0]))
    messages = {r.message for r in report.failed}
    assert any("not" in m for m in messages), messages
