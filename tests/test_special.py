"""xloss.special against scipy.special / numpy on every backend, plus gradients."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc

from backends import Case, assert_result
from xloss import special

RNG = np.random.default_rng(0)

# Adversarial rows: huge magnitudes, -inf entries, all -inf, mixed signs.
ROWS = np.array(
    [
        [1e300, 1.0, -1e300, 0.0],
        [-np.inf, 2.0, 3.0, -np.inf],
        [-np.inf, -np.inf, -np.inf, -np.inf],
        [-5.0, 0.0, 5.0, 700.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
)
ROWS32 = np.array(
    [[3e38, 1.0, -3e38, 0.0], [-np.inf, 2.0, 3.0, -np.inf], [-np.inf] * 4, [-5.0, 0.0, 5.0, 80.0]]
)


def _rows(dtype: str) -> np.ndarray:
    return ROWS if dtype == "float64" else ROWS32


@pytest.mark.parametrize("axis", [-1, 0, None, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_scipy(case: Case, dtype: str, axis, keepdims) -> None:
    data = np.concatenate([_rows(dtype), RNG.normal(size=(3, 4)) * 30])
    x = case.asarray(data, dtype)
    out = case.call(special.logsumexp, x, axis=axis, keepdims=keepdims)
    with np.errstate(all="ignore"):
        expected = sc.logsumexp(data.astype(dtype), axis=axis, keepdims=keepdims)
    assert_result(case, out, expected, dtype=dtype)


def test_logsumexp_nan_and_inf_propagate(case: Case) -> None:
    data = np.array([[np.nan, 1.0], [np.inf, 1.0], [np.inf, -np.inf]])
    out = case.call(special.logsumexp, case.asarray(data), axis=1)
    assert_result(case, out, [np.nan, np.inf, np.inf])


@pytest.mark.parametrize("fn", ["log_softmax", "softmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_family_matches_scipy(case: Case, dtype: str, fn: str, axis: int) -> None:
    data = np.concatenate([_rows(dtype), RNG.normal(size=(3, 4)) * 30])
    out = case.call(getattr(special, fn), case.asarray(data, dtype), axis=axis)
    with np.errstate(all="ignore"):
        expected = getattr(sc, fn)(data.astype(dtype), axis=axis)
    # Entries near 0 come from x - m - log(s) with s near 1: an absolute error of a few ulp
    # of 1 is inherent (seen on JAX GPU, whose exp/log differ from glibc's by an ulp).
    atol = 4 * float(np.finfo(dtype).eps)
    assert_result(case, out, expected, dtype=dtype, atol=atol)


ELEMENTWISE = np.array([-1e300, -800.0, -30.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 30.0, 800.0, 1e300])


@pytest.mark.parametrize(
    ("fn", "reference"),
    [
        ("sigmoid", sc.expit),
        ("log_sigmoid", sc.log_expit),
        ("softplus", lambda x: np.logaddexp(0.0, x)),
    ],
)
def test_sigmoid_family_matches_reference(case: Case, dtype: str, fn: str, reference) -> None:
    data = ELEMENTWISE if dtype == "float64" else np.clip(ELEMENTWISE, -3e38, 3e38)
    out = case.call(getattr(special, fn), case.asarray(data, dtype))
    assert_result(case, out, reference(data.astype(dtype)), dtype=dtype)


XS = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.5, 1e-300, 3.0, -2.0, 0.5, 0.0, np.nan])
YS = np.array([0.0, 1.0, np.inf, np.nan, 0.0, 7.0, 1e-300, np.nan, 0.5, -0.5, -1.0, 1.0])


@pytest.mark.parametrize("fn", ["xlogy", "xlog1py", "rel_entr"])
def test_binary_matches_scipy(case: Case, fn: str) -> None:
    dtype = "float64" if case.float64 else "float32"
    xs, ys = XS.astype(dtype), YS.astype(dtype)
    out = case.call(getattr(special, fn), case.asarray(xs), case.asarray(ys))
    with np.errstate(all="ignore"):
        expected = getattr(sc, fn)(xs, ys)
    assert_result(case, out, expected, dtype=dtype)


def test_entr_matches_scipy(case: Case) -> None:
    data = np.array([0.0, 1e-300, 0.3, 1.0, 5.0, -1.0, np.inf, np.nan])
    if not case.float64:
        data = data.astype(np.float32)
    out = case.call(special.entr, case.asarray(data))
    assert_result(case, out, sc.entr(data))


def test_broadcasting_and_scalars(case: Case) -> None:
    dtype = np.float64 if case.float64 else np.float32
    xs, ys = np.array([[0.0], [2.0]], dtype), np.array([0.5, 2.0, 0.0], dtype)
    x, y = case.asarray(xs), case.asarray(ys)
    assert_result(case, case.call(special.xlogy, x, y), sc.xlogy(xs, ys))
    assert_result(case, special.xlogy(2.0, y), sc.xlogy(dtype(2.0), ys))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision_computes_in_float32(case: Case, low: str) -> None:
    try:
        case.dtype(low)
    except (LookupError, AttributeError):
        pytest.skip(f"{case.name} has no {low}")
    data = np.array([[60000.0, 0.0, -60000.0], [1.0, 2.0, 3.0]])
    x = case.asarray(data, low)
    out = case.call(special.logsumexp, x, axis=1)
    # float16 would overflow exp(60000) without the max shift; the result is the float32
    # result rounded once to the input dtype.
    x64 = case.to_numpy(x).astype(np.float32)
    assert_result(case, out, sc.logsumexp(x64, axis=1), dtype=low, rtol=1e-2)


def test_integer_input_is_rejected(case: Case) -> None:
    with pytest.raises(TypeError, match="real floating"):
        special.logsumexp(case.asarray(np.array([1, 2, 3])))


# -- gradients: finite wherever the function is finite ----------------------------------


def _grad(case: Case, fn, data: np.ndarray):
    if case.library == "torch":
        t = case.asarray(data)
        t.requires_grad_(True)
        fn(t).sum().backward()
        return case.to_numpy(t.grad)
    import jax

    g = jax.grad(lambda a: fn(a).sum())
    if case.jit:
        g = jax.jit(g)
    return np.asarray(g(case.asarray(data)))


@pytest.mark.parametrize(
    ("fn", "data"),
    [
        (lambda x: special.logsumexp(x, axis=-1), ROWS[[0, 1, 3, 4]]),
        (lambda x: special.log_softmax(x, axis=-1)[..., 2], ROWS[[0, 1, 3, 4]]),
        (lambda x: special.softmax(x, axis=-1)[..., 2], ROWS[[0, 1, 3, 4]]),
        (special.sigmoid, ELEMENTWISE),
        (special.log_sigmoid, ELEMENTWISE),
        (special.softplus, ELEMENTWISE),
        # d/dp (-p log p) = -log p - 1 is itself infinite at p = 0, so 0 is left out here.
        (special.entr, np.array([1e-300, 0.5, 2.0])),
        (lambda p: special.xlogy(p, p), np.array([1e-300, 0.5, 2.0])),
        (lambda p: special.xlog1py(p, p), np.array([0.0, 1e-300, 0.5, 2.0])),
        (lambda p: special.rel_entr(p, 0.25), np.array([1e-300, 0.2, 0.5, 0.3])),
    ],
)
def test_gradients_are_finite(case: Case, fn, data: np.ndarray) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    grad = _grad(case, fn, data)
    assert np.all(np.isfinite(grad)), grad


def test_logsumexp_gradient_is_softmax(case: Case) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    data = RNG.normal(size=(4, 6)) * 50
    grad = _grad(case, lambda x: special.logsumexp(x, axis=1), data)
    np.testing.assert_allclose(grad, sc.softmax(data, axis=1), rtol=1e-12, atol=1e-300)


def test_xlogy_gradient_is_zero_where_x_is_zero(case: Case) -> None:
    """The double-where keeps d/dx and d/dy finite at x = 0, y = 0 (no 0 * inf = NaN)."""
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    grad = _grad(case, lambda y: special.xlogy(0.0, y), np.array([0.0, 0.5]))
    np.testing.assert_array_equal(grad, [0.0, 0.0])
