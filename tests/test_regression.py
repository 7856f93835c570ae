"""Regression likelihoods against torch.nn.functional (values and autograd), optax and mpmath."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xloss
from backends import Case, assert_result

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(4)
SHAPE = (5, 4)

INPUT = RNG.normal(size=SHAPE) * 2.0
TARGET = INPUT + RNG.normal(size=SHAPE) * np.array([0.1, 0.7, 1.5, 4.0])  # both Huber regimes
WEIGHT = RNG.uniform(0.1, 2.0, size=SHAPE)
# Variances straddling eps = 1e-6 (the clamp) and spanning orders of magnitude.
VAR = np.abs(RNG.normal(size=SHAPE)) * 10.0 ** RNG.integers(-8, 2, size=SHAPE)
COUNTS = RNG.poisson(3.0, size=SHAPE).astype(np.float64)
COUNTS[0, :] = [0.0, 1.0, 2.0, 1.5]  # around the Stirling mask (target <= 1)
RATES = np.exp(RNG.normal(size=SHAPE))

REDUCTIONS = ["mean", "sum", "none"]


def _torch_value_and_grads(
    name: str, arrays: dict[str, np.ndarray], grad_of: tuple[str, ...], **options
):
    """torch.nn.functional's value and gradients (of the sum of the output) in float64."""
    tensors = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=k in grad_of)
        for k, v in arrays.items()
    }
    out = getattr(F, name)(*tensors.values(), **options)
    grads = torch.autograd.grad(out.sum(), [tensors[k] for k in grad_of]) if grad_of else ()
    return out.detach().numpy(), [g.numpy() for g in grads]


# (torch name, positional arrays, options, arrays to differentiate)
CASES = [
    ("mse_loss", {"input": INPUT, "target": TARGET}, {}, ("input", "target")),
    ("l1_loss", {"input": INPUT, "target": TARGET}, {}, ("input", "target")),
    ("huber_loss", {"input": INPUT, "target": TARGET}, {"delta": 1.0}, ("input", "target")),
    ("huber_loss", {"input": INPUT, "target": TARGET}, {"delta": 0.3}, ("input",)),
    ("smooth_l1_loss", {"input": INPUT, "target": TARGET}, {"beta": 1.0}, ("input",)),
    ("smooth_l1_loss", {"input": INPUT, "target": TARGET}, {"beta": 2.5}, ("input",)),
    ("smooth_l1_loss", {"input": INPUT, "target": TARGET}, {"beta": 0.0}, ("input",)),
    ("poisson_nll_loss", {"input": INPUT, "target": COUNTS}, {}, ("input",)),
    ("poisson_nll_loss", {"input": INPUT, "target": COUNTS}, {"full": True}, ("input",)),
    ("poisson_nll_loss", {"input": RATES, "target": COUNTS}, {"log_input": False}, ("input",)),
    (
        "poisson_nll_loss",
        {"input": RATES, "target": COUNTS},
        {"log_input": False, "full": True, "eps": 1e-3},
        ("input",),
    ),
    (
        "gaussian_nll_loss",
        {"input": INPUT, "target": TARGET, "var": VAR},
        {},
        ("input", "target", "var"),
    ),
    (
        "gaussian_nll_loss",
        {"input": INPUT, "target": TARGET, "var": VAR},
        {"full": True, "eps": 1e-3},
        ("input", "var"),
    ),
    (
        "gaussian_nll_loss",
        {"input": INPUT, "target": TARGET, "var": VAR[:, 0]},
        {},
        ("input", "var"),
    ),
    (
        "gaussian_nll_loss",
        {"input": INPUT, "target": TARGET, "var": VAR[:, :1]},
        {"full": True},
        ("input", "var"),
    ),
    (
        "gaussian_nll_loss",
        {"input": INPUT, "target": TARGET, "var": VAR[:1, :]},
        {},
        ("input", "var"),
    ),
]
WEIGHTED = [
    ("mse_loss", {}),
    ("l1_loss", {}),
    ("huber_loss", {"delta": 1.0}),
    ("huber_loss", {"delta": 0.5}),
]


def _id(entry) -> str:
    name, arrays, options, _ = entry
    shapes = "var" + "x".join(map(str, arrays["var"].shape)) if "var" in arrays else ""
    return "-".join([name, shapes, *(f"{k}={v}" for k, v in options.items())]).replace("--", "-")


def _as_dtype(arrays: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    return {k: v.astype(dtype) for k, v in arrays.items()}


def _tolerances(dtype: str) -> dict[str, float]:
    return {"rtol": 1e-12, "atol": 0.0} if dtype == "float64" else {"rtol": 2e-5, "atol": 1e-5}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("entry", CASES, ids=[_id(e) for e in CASES])
def test_matches_torch(case: Case, dtype: str, entry, reduction: str) -> None:
    name, arrays, options, _ = entry
    arrays = _as_dtype(arrays, dtype)
    expected, _ = _torch_value_and_grads(name, arrays, (), reduction=reduction, **options)
    args = [case.asarray(v, dtype) for v in arrays.values()]
    out = case.call(getattr(xloss, name), *args, reduction=reduction, **options)
    assert_result(case, out, expected, dtype=dtype, **_tolerances(dtype))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "options"), WEIGHTED)
def test_weighted_matches_torch(case: Case, dtype: str, name: str, options, reduction) -> None:
    arrays = _as_dtype({"input": INPUT, "target": TARGET}, dtype)
    weight = WEIGHT.astype(dtype)
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in arrays.items()}
    expected = getattr(F, name)(
        *t.values(),
        reduction=reduction,
        weight=torch.tensor(weight, dtype=torch.float64),
        **options,
    ).numpy()
    args = [case.asarray(v, dtype) for v in arrays.values()]
    out = case.call(
        getattr(xloss, name),
        *args,
        reduction=reduction,
        weight=case.asarray(weight, dtype),
        **options,
    )
    assert_result(case, out, expected, dtype=dtype, **_tolerances(dtype))


def test_weighted_means_follow_torch_denominators() -> None:
    """mse/l1 divide by sum(weight); huber by the number of elements (as torch does)."""
    x, t, w = np.array([1.0, 3.0]), np.zeros(2), np.array([1.0, 3.0])
    assert float(xloss.mse_loss(x, t, weight=w)) == (1 * 1 + 3 * 9) / 4
    assert float(xloss.l1_loss(x, t, weight=w)) == (1 * 1 + 3 * 3) / 4
    assert float(xloss.huber_loss(x, t, weight=w, delta=1.0)) == (1 * 0.5 + 3 * 2.5) / 2


def test_broadcast_target(case: Case) -> None:
    x, t = INPUT, TARGET[:1]
    for name in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss"):
        out = case.call(getattr(xloss, name), case.asarray(x), case.asarray(t), reduction="none")
        expected = getattr(xloss, name)(x, np.broadcast_to(t, x.shape), reduction="none")
        assert_result(case, out, expected, rtol=1e-12 if case.float64 else 2e-6)


def test_gaussian_scalar_var_matches_torch(case: Case) -> None:
    expected = F.gaussian_nll_loss(torch.tensor(INPUT), torch.tensor(TARGET), 0.3).numpy()
    out = case.call(xloss.gaussian_nll_loss, case.asarray(INPUT), case.asarray(TARGET), var=0.3)
    assert_result(case, out, expected, rtol=1e-12 if case.float64 else 2e-6)


# -- gradients ------------------------------------------------------------------------------


def _xloss_grads(case: Case, name: str, arrays: dict[str, np.ndarray], grad_of, **options):
    fn = getattr(xloss, name)
    keys = list(arrays)
    if case.library == "torch":
        tensors = [case.asarray(v) for v in arrays.values()]
        for k, tensor in zip(keys, tensors, strict=True):
            tensor.requires_grad_(k in grad_of)
        out = fn(*tensors, **options)
        grads = torch.autograd.grad(out.sum(), [tensors[keys.index(k)] for k in grad_of])
        return [case.to_numpy(g) for g in grads]
    import jax

    argnums = tuple(keys.index(k) for k in grad_of)
    grad = jax.grad(lambda *a: fn(*a, **options).sum(), argnums=argnums)
    if case.jit:
        grad = jax.jit(grad)
    return [np.asarray(g) for g in grad(*[case.asarray(v) for v in arrays.values()])]


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("entry", CASES, ids=[_id(e) for e in CASES])
def test_gradients_match_torch(case: Case, entry, reduction: str) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    name, arrays, options, grad_of = entry
    _, expected = _torch_value_and_grads(name, arrays, grad_of, reduction=reduction, **options)
    got = _xloss_grads(case, name, arrays, grad_of, reduction=reduction, **options)
    for k, g, e in zip(grad_of, got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-300, err_msg=f"d/d{k}")


@pytest.mark.parametrize(("name", "options"), WEIGHTED)
def test_weighted_gradients_match_torch(case: Case, name: str, options) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    arrays = {"input": INPUT, "target": TARGET, "weight": WEIGHT}
    t = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    out = getattr(F, name)(t["input"], t["target"], weight=t["weight"], **options)
    expected = [g.numpy() for g in torch.autograd.grad(out, list(t.values()))]

    def fn(x, y, w):
        return getattr(xloss, name)(x, y, weight=w, **options)

    if case.library == "torch":
        args = [case.asarray(v).requires_grad_(True) for v in arrays.values()]
        got = [case.to_numpy(g) for g in torch.autograd.grad(fn(*args), args)]
    else:
        import jax

        grad = jax.grad(fn, argnums=(0, 1, 2))
        if case.jit:
            grad = jax.jit(grad)
        got = [np.asarray(g) for g in grad(*[case.asarray(v) for v in arrays.values()])]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-300)


def test_gaussian_clamp_passes_gradient_straight_through(case: Case) -> None:
    """Below eps the value uses eps, but d/dvar is the derivative at eps, not 0 (torch)."""
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    x, t, var = np.array([0.5, 0.5, 0.5]), np.array([0.0, 0.0, 0.0]), np.array([1e-9, 0.0, 2.0])
    tv = torch.tensor(var, requires_grad=True)
    out = F.gaussian_nll_loss(torch.tensor(x), torch.tensor(t), tv, reduction="sum")
    (expected,) = torch.autograd.grad(out, tv)
    assert expected[0] != 0  # the property under test
    (got,) = _xloss_grads(
        case, "gaussian_nll_loss", {"input": x, "target": t, "var": var}, ("var",), reduction="sum"
    )
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12)


# -- log-cosh (optax semantics) --------------------------------------------------------------

ERRORS = np.array([0.0, 1e-300, 1e-8, -1e-4, 0.3, -0.999, 1.0, 1.5, -20.0, 354.0, 800.0, -1e300])


def _log_cosh_reference(e: float) -> float:
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(60):
        return float(mpmath.log(mpmath.cosh(mpmath.mpf(e))))


def test_log_cosh_matches_mpmath(case: Case, dtype: str) -> None:
    errors = ERRORS if dtype == "float64" else np.clip(ERRORS, -3e38, 3e38).astype(dtype)
    errors = errors.astype(dtype)
    expected = [_log_cosh_reference(float(e)) for e in errors]
    zeros = np.zeros_like(errors)
    out = case.call(
        xloss.log_cosh_loss,
        case.asarray(errors, dtype),
        case.asarray(zeros, dtype),
        reduction="none",
    )
    rtol = 1e-15 if dtype == "float64" else 1e-6
    assert_result(
        case,
        out,
        np.asarray(expected, dtype).astype(np.float64),
        dtype=dtype,
        rtol=rtol,
        atol=1e-300,
    )


def test_log_cosh_matches_optax(case: Case) -> None:
    optax = pytest.importorskip("optax")
    import jax

    jax.config.update("jax_enable_x64", True)  # optax on float64 data (as the jax case does)
    # optax's logaddexp(e, -e) - log 2 cancels below |e| ~ 0.1; compare above that.
    pred = RNG.normal(size=50) * 30.0 + np.sign(RNG.normal(size=50)) * 0.2
    target = np.zeros(50)
    expected = np.asarray(optax.log_cosh(pred, target))
    out = case.call(xloss.log_cosh_loss, case.asarray(pred), case.asarray(target), reduction="none")
    assert_result(case, out, expected, rtol=1e-12 if case.float64 else 2e-6)
    out = case.call(xloss.log_cosh_loss, case.asarray(pred), case.asarray(target))
    assert_result(case, out, expected.mean(), rtol=1e-12 if case.float64 else 2e-6)


def test_log_cosh_gradient_is_tanh(case: Case) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    errors = ERRORS[np.abs(ERRORS) < 1e300]
    (got,) = _xloss_grads(
        case,
        "log_cosh_loss",
        {"input": errors, "target": np.zeros_like(errors)},
        ("input",),
        reduction="sum",
    )
    np.testing.assert_allclose(got, np.tanh(errors), rtol=1e-15, atol=1e-300)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("var_shape", [(5, 3), (5, 1, 1), (4,), (2, 5, 4), ()])
def test_gaussian_var_shape_errors_as_torch(case: Case, var_shape) -> None:
    var = np.ones(var_shape)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(torch.tensor(INPUT), torch.tensor(TARGET), torch.tensor(var))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        xloss.gaussian_nll_loss(case.asarray(INPUT), case.asarray(TARGET), case.asarray(var))


def test_gaussian_negative_var(case: Case) -> None:
    var = VAR.copy()
    var[1, 2] = -0.5
    x, t, v = case.asarray(INPUT), case.asarray(TARGET), case.asarray(var)
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(torch.tensor(INPUT), torch.tensor(TARGET), torch.tensor(var))
    with pytest.raises(ValueError, match="negative"):
        xloss.gaussian_nll_loss(x, t, -1.0)
    if case.library in ("numpy", "array_api_strict") or case.name == "torch":
        with pytest.raises(ValueError, match="negative"):
            xloss.gaussian_nll_loss(x, t, v)
    else:  # not inspectable (jit, lazy, GPU): NaN where the variance is negative
        out = case.call(xloss.gaussian_nll_loss, x, t, v, reduction="none")
        got = case.to_numpy(out)
        assert np.isnan(got[1, 2])
        assert np.isfinite(np.delete(got.ravel(), 1 * 4 + 2)).all()


def test_option_errors(case: Case) -> None:
    x, t = case.asarray(INPUT), case.asarray(TARGET)
    for name in (
        "mse_loss",
        "l1_loss",
        "huber_loss",
        "smooth_l1_loss",
        "log_cosh_loss",
        "poisson_nll_loss",
    ):
        with pytest.raises(ValueError, match="reduction"):
            getattr(xloss, name)(x, t, reduction="batchmean")
    with pytest.raises(ValueError, match="reduction"):
        xloss.gaussian_nll_loss(x, t, 1.0, reduction="avg")
    for delta in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="delta"):
            xloss.huber_loss(x, t, delta=delta)
    with pytest.raises(ValueError, match="beta"):
        xloss.smooth_l1_loss(x, t, beta=-0.1)
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        with pytest.raises(ValueError, match="weight"):
            getattr(xloss, name)(x, t, weight=case.asarray(WEIGHT[:, :2]))
    with pytest.raises(TypeError, match="real floating"):
        xloss.mse_loss(case.asarray(np.array([1, 2])), case.asarray(np.array([1, 2])))


def test_torch_rejects_what_we_reject() -> None:
    """The option errors above are torch's own."""
    x, t = torch.tensor(INPUT), torch.tensor(TARGET)
    with pytest.raises(RuntimeError, match="delta"):
        F.huber_loss(x, t, delta=0.0)
    with pytest.raises(RuntimeError, match="beta"):
        F.smooth_l1_loss(x, t, beta=-0.1)
    with pytest.raises(ValueError, match="Weights"):
        F.mse_loss(x, t, weight=torch.tensor(WEIGHT[:, :2]))


def test_low_precision_returns_input_dtype(case: Case) -> None:
    try:
        low = case.dtype("float16")
    except (LookupError, AttributeError):
        pytest.skip(f"{case.name} has no float16")
    del low
    x16, t16 = INPUT.astype(np.float16), TARGET.astype(np.float16)
    out = case.call(xloss.mse_loss, case.asarray(x16, "float16"), case.asarray(t16, "float16"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = F.mse_loss(
            torch.tensor(x16, dtype=torch.float32), torch.tensor(t16, dtype=torch.float32)
        ).numpy()
    assert_result(case, out, expected, dtype="float16", rtol=1e-3)


def test_empty_mean_is_nan_sum_is_zero(case: Case) -> None:
    x = case.asarray(np.zeros((0, 3)))
    assert np.isnan(case.to_numpy(case.call(xloss.mse_loss, x, x)))
    assert case.to_numpy(case.call(xloss.mse_loss, x, x, reduction="sum")) == 0.0
