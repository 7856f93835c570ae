"""xloss._backend: namespace/device resolution, errors, dtype policy, inspectability."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from backends import Case
from xloss import _backend, special


def test_import_does_not_import_frameworks() -> None:
    code = (
        "import sys, xloss, xloss.special, xloss.info\n"
        "bad = [m for m in ('torch', 'jax', 'cupy', 'dask') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_result_stays_in_library_and_device(case: Case) -> None:
    x = case.asarray(np.array([[1.0, 2.0], [3.0, 4.0]]))
    out = case.call(special.log_softmax, x)
    backend = _backend.resolve(x)
    assert _backend.resolve(out).kind == backend.kind
    if not case.jit:
        assert _backend.resolve(out).device == backend.device


def test_mixed_libraries_raise_type_error() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(
        TypeError, match=r"one array library.*numpy.*torch|one array library.*torch.*numpy"
    ):
        special.xlogy(np.ones(2), torch.ones(2, dtype=torch.float64))


def test_mixed_devices_raise_value_error() -> None:
    strict = pytest.importorskip("array_api_strict")
    d1, d2 = (strict.Device("device1"), strict.Device("device2"))
    with pytest.raises(ValueError, match=r"one device.*device1.*device2"):
        special.xlogy(strict.ones(2, device=d1), strict.ones(2, device=d2))


def test_torch_meta_and_cpu_mixed_raise() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="one device"):
        special.xlogy(torch.ones(2), torch.ones(2, device="meta"))


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_non_floating_raises_type_error(case: Case, dtype: str) -> None:
    x = case.asarray(np.array([1, 0, 1]), "int64" if case.float64 else "int32")
    if dtype == "bool":
        x = x > 0
    with pytest.raises(TypeError, match="real floating"):
        special.softplus(x)


def test_scalars_become_arrays_on_the_device(case: Case) -> None:
    y = case.asarray(np.array([0.5, 2.0]))
    out = case.call(lambda y: special.xlogy(3.0, y), y)
    backend = _backend.resolve(out)
    assert backend.kind == _backend.resolve(y).kind
    np.testing.assert_allclose(case.to_numpy(out), 3.0 * np.log([0.5, 2.0]), rtol=1e-6)


def test_only_scalars_is_an_error() -> None:
    with pytest.raises(TypeError, match="at least one array"):
        _backend.resolve(1.0, None)


def test_inspectable_per_backend(case: Case) -> None:
    x = case.asarray(np.ones(2))
    expected = case.library in ("numpy", "array_api_strict") or case.name == "torch"
    if case.jit:
        import jax

        seen = []
        jax.jit(lambda a: seen.append(_backend.resolve(a).inspectable) or a)(x)
        assert seen == [False]
    else:
        assert _backend.resolve(x).inspectable is expected


def test_torch_meta_and_compile_are_not_inspectable() -> None:
    torch = pytest.importorskip("torch")
    assert not _backend.resolve(torch.ones(2, device="meta")).inspectable
    seen = []

    def probe(t):
        seen.append(_backend.resolve(t).inspectable)
        return t * 2

    torch.compile(probe, backend="eager", fullgraph=False)(torch.ones(2))
    assert seen
    assert seen[-1] is False


def test_torch_func_transform_is_not_inspectable() -> None:
    torch = pytest.importorskip("torch")
    seen = []

    def f(t):
        seen.append(_backend.resolve(t).inspectable)
        return (t * t).sum()

    torch.func.grad(f)(torch.ones(2))
    assert seen == [False]


def test_meta_tensors_pass_through_without_sync() -> None:
    torch = pytest.importorskip("torch")
    x = torch.empty((3, 5), device="meta", dtype=torch.float32)
    out = special.logsumexp(x, axis=1)
    assert out.device.type == "meta"
    assert out.shape == (3,)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("float16", "float32"),
        ("bfloat16", "float32"),
        ("float32", "float32"),
        ("float64", "float64"),
    ],
)
def test_compute_dtype_policy(name: str, expected: str) -> None:
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as xp

    assert _backend.compute_dtype(getattr(torch, name), xp) == getattr(torch, expected)


def test_compute_dtype_numpy_float64_is_kept() -> None:
    # Regression: np.dtype("float64") == None is True in NumPy.
    import array_api_compat.numpy as xp

    assert _backend.compute_dtype(np.dtype("float64"), xp) == np.float64
    assert _backend.compute_dtype(np.dtype("float16"), xp) == np.float32


def test_stop_gradient_cuts_the_gradient() -> None:
    torch = pytest.importorskip("torch")
    x = torch.ones(2, requires_grad=True)
    backend = _backend.resolve(x)
    (x * _backend.stop_gradient(x, backend)).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(2))


def test_take_along_axis_dask_route_matches_numpy() -> None:
    da = pytest.importorskip("dask.array")
    data = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0], [3], [2]])
    backend = _backend.resolve(da.from_array(data))
    out = _backend.take_along_axis(da.from_array(data), da.from_array(idx), 1, backend)
    np.testing.assert_array_equal(out.compute(), np.take_along_axis(data, idx, axis=1))


def test_no_float64_device_works() -> None:
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("no_float64")
    x = strict.asarray([1.0, 2.0], device=dev)
    out = special.logsumexp(x)
    assert out.dtype == strict.float32
    assert out.device == dev


def test_compile_fullgraph_without_graph_breaks() -> None:
    """A first call made inside torch.compile(fullgraph=True): no import, errstate or cache."""
    torch = pytest.importorskip("torch")
    from xloss import info

    fn = torch.compile(
        lambda x: special.logsumexp(x, axis=1) + info.entropy(x, logits=True),
        fullgraph=True,
        backend="eager",
    )
    x = torch.randn(3, 4, dtype=torch.float64)
    expected = torch.logsumexp(x, 1) + torch.distributions.Categorical(logits=x).entropy()
    torch.testing.assert_close(fn(x), expected)
