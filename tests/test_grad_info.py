"""xloss.grad.info: gradients with respect to logits equal torch autograd and jax.grad."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import xloss
from backends import Case, assert_result

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(88)
P = RNG.normal(size=(4, 5)) * 3
Q = RNG.normal(size=(4, 5)) * 3
Q_ROW = RNG.normal(size=(5,)) * 3  # broadcast against P
P_AXIS0 = RNG.normal(size=(5, 3)) * 3
Q_AXIS0 = RNG.normal(size=(5, 3)) * 3


def _torch_entropy(p: Any, axis: int) -> Any:
    log_p = torch.log_softmax(p, dim=axis)
    return -(log_p.exp() * log_p).sum(dim=axis)


def _torch_cross_entropy(p: Any, q: Any, axis: int) -> Any:
    return -(torch.softmax(p, dim=axis) * torch.log_softmax(q, dim=axis)).sum(dim=axis)


def _torch_kl(p: Any, q: Any, axis: int) -> Any:
    log_p = torch.log_softmax(p, dim=axis)
    return (log_p.exp() * (log_p - torch.log_softmax(q, dim=axis))).sum(dim=axis)


TORCH = {
    "entropy": _torch_entropy,
    "cross_entropy": _torch_cross_entropy,
    "kl_divergence": _torch_kl,
}

CASES = [
    ("entropy", (P,), {}),
    ("entropy", (P_AXIS0,), {"axis": 0, "base": 2.0}),
    ("cross_entropy", (P, Q), {}),
    ("cross_entropy", (P, Q_ROW), {"base": 2.0}),
    ("cross_entropy", (P_AXIS0, Q_AXIS0), {"axis": 0}),
    ("kl_divergence", (P, Q), {}),
    ("kl_divergence", (Q_ROW, P), {"base": 10.0}),
    ("kl_divergence", (P_AXIS0, Q_AXIS0), {"axis": 0, "base": 2.0}),
]


def _id(entry: tuple[Any, ...]) -> str:
    name, arrays, options = entry
    shapes = "-".join("x".join(map(str, a.shape)) for a in arrays)
    return "-".join([name, shapes, *(f"{k}={v}" for k, v in options.items())])


def _reference(name: str, arrays: tuple[np.ndarray, ...], options: dict[str, Any], dtype: str):
    tensors = [torch.tensor(a.astype(dtype).astype(np.float64), requires_grad=True) for a in arrays]
    out = TORCH[name](*tensors, options.get("axis", -1))
    if options.get("base"):
        out = out / math.log(options["base"])
    grads = torch.autograd.grad(out.sum(), tensors)
    return out.detach().numpy(), [g.numpy() for g in grads]


def _tolerance(dtype: str, expected: np.ndarray) -> dict[str, float]:
    scale = 1 + float(np.max(np.abs(expected)))
    if dtype == "float64":
        return {"rtol": 1e-11, "atol": 1e-14 * scale}
    return {"rtol": 2e-5, "atol": 2e-6 * scale}


@pytest.mark.parametrize("entry", CASES, ids=[_id(e) for e in CASES])
def test_matches_torch_autograd(case: Case, entry: tuple[Any, ...]) -> None:
    name, arrays, options = entry
    dtype = "float64" if case.float64 else "float32"
    value, grads = _reference(name, arrays, options, dtype)
    fn = getattr(xloss.grad.info, name)
    out = case.call(fn, *[case.asarray(a.astype(dtype)) for a in arrays], logits=True, **options)
    assert len(out) == 1 + len(arrays)
    assert_result(case, out[0], value, dtype=dtype, **_tolerance(dtype, value))
    for got, expected in zip(out[1:], grads, strict=True):
        assert_result(case, got, expected, dtype=dtype, **_tolerance(dtype, expected))
    if case.library == "numpy":  # the value is xloss.info's own
        public = getattr(xloss.info, name)(*arrays, logits=True, **options)
        np.testing.assert_array_equal(out[0], public)


@pytest.mark.parametrize("entry", CASES, ids=[_id(e) for e in CASES])
def test_matches_jax_grad_of_xloss_info(entry: tuple[Any, ...]) -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    name, arrays, options = entry
    public = getattr(xloss.info, name)
    values = [jnp.asarray(a) for a in arrays]
    expected = jax.grad(
        lambda *v: jnp.sum(public(*v, logits=True, **options)), argnums=tuple(range(len(arrays)))
    )(*values)
    out = getattr(xloss.grad.info, name)(*arrays, logits=True, **options)
    for got, want in zip(out[1:], expected, strict=True):
        want = np.asarray(want)
        np.testing.assert_allclose(got, want, **_tolerance("float64", want))


@pytest.mark.parametrize("entry", CASES, ids=[_id(e) for e in CASES])
def test_logit_gradients_sum_to_zero(entry: tuple[Any, ...]) -> None:
    """Adding a constant to a slice of logits changes nothing, so each slice's gradient sums to 0."""
    name, arrays, options = entry
    out = getattr(xloss.grad.info, name)(*arrays, logits=True, **options)
    for gradient in out[1:]:
        np.testing.assert_allclose(
            np.sum(gradient, axis=options.get("axis", -1)), 0.0, atol=1e-13 * gradient.size
        )


def test_saturated_logits_give_finite_gradients() -> None:
    p = np.array([[1e30, 0.0, -1e30], [-np.inf, 0.0, 0.0]])
    q = np.array([[0.0, 1e3, -1e3], [0.0, 0.0, 5.0]])
    for name in ("entropy", "cross_entropy", "kl_divergence"):
        fn = getattr(xloss.grad.info, name)
        out = fn(p, logits=True) if name == "entropy" else fn(p, q, logits=True)
        for part in out:
            assert np.all(np.isfinite(part)), (name, part)


def test_probabilities_are_refused() -> None:
    with pytest.raises(ValueError, match="logits=True"):
        xloss.grad.info.entropy(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="logits=True"):
        xloss.grad.info.kl_divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5]), logits=False)
