"""The JAX index-target cross-entropy's custom VJP (issue #8) against independent gradients.

References: torch autograd of ``torch.nn.functional.cross_entropy`` (input gradient),
``jax.grad`` of the loss written out here on ``jax.nn.log_softmax`` (input and weight),
``jax.grad`` of the generic definition (``xloss._dispatch.generic``), and ``jax.grad`` of the
composition the native entry was differentiated through before (written out below), which
fixes the NaN pattern at adversarial rows. Never xloss's own output.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

import xloss
from xloss import _backend, _dispatch

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RNG = np.random.default_rng(2024)
C = 5
WEIGHT = np.array([1.0, 0.5, 2.0, 0.3, 1.5])
REDUCTIONS = ("mean", "sum", "none")


def _layouts() -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(id, logits, labels holding -100 and the class 2, class axis)."""
    y_ncd = RNG.integers(0, C, size=(3, 4))
    y_ncd[0, 1], y_ncd[2, 3] = -100, 2
    return [
        ("nc-axis1", RNG.normal(size=(7, C)) * 3, np.array([0, 4, -100, 2, 1, 3, 2]), 1),
        ("ncd-axis1", RNG.normal(size=(3, C, 4)) * 3, y_ncd, 1),
        ("btc-axis-1", RNG.normal(size=(2, 3, C)) * 3, np.array([[0, 4, -100], [1, 2, 2]]), -1),
    ]


LAYOUTS = _layouts()


def _formula(x: Any, y: Any, w: Any, *, axis: int, ignore_index: int, reduction: str) -> Any:
    """PyTorch's weighted, ignoring cross-entropy written out on ``jax.nn.log_softmax``."""
    log_p = jnp.moveaxis(jax.nn.log_softmax(x, axis=axis), axis, -1)
    kept = y != ignore_index
    safe = jnp.where(kept, y, 0)
    picked = jnp.take_along_axis(log_p, safe[..., None], axis=-1)[..., 0]
    w_y = jnp.ones_like(picked) if w is None else w[safe]
    losses = jnp.where(kept, -picked * w_y, 0.0)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return jnp.sum(losses)
    return jnp.sum(losses) / jnp.sum(jnp.where(kept, w_y, 0.0))


def _composition(x: Any, y: Any, w: Any, *, axis: int, ignore_index: int, reduction: str) -> Any:
    """The native entry's forward before issue #8, for ``jax.grad`` to differentiate."""
    m = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    log_sum = jnp.log(jnp.sum(jnp.exp(x - m), axis=axis, keepdims=True))
    in_range = (y >= 0) & (y < x.shape[axis])
    ignored = y == ignore_index
    safe = jnp.where(in_range, y, 0)
    picked = (jnp.take_along_axis(x, jnp.expand_dims(safe, axis), axis=axis) - m) - log_sum
    picked = jnp.squeeze(picked, axis=axis)
    w_y = jnp.ones_like(picked) if w is None else w[safe]
    losses = jnp.where(ignored, 0.0, jnp.where(~in_range & ~ignored, math.nan, -picked * w_y))
    if reduction == "none":
        return losses
    if reduction == "sum":
        return jnp.sum(losses)
    return jnp.sum(losses) / jnp.sum(jnp.where(ignored, 0.0, w_y))


def _ours(y: Any, **options: Any) -> Any:
    return lambda x, w: xloss.cross_entropy(x, jnp.asarray(y), w, **options)


def _cotangent(reduction: str, shape: tuple[int, ...]) -> np.ndarray:
    return RNG.normal(size=shape) if reduction == "none" else np.array(1.7)


def _grads(loss: Any, cotangent: np.ndarray, x: np.ndarray, w: np.ndarray | None) -> list[Any]:
    argnums = (0,) if w is None else (0, 1)
    args = (jnp.asarray(x), None if w is None else jnp.asarray(w))
    out = jax.grad(lambda *a: jnp.sum(loss(*a) * cotangent), argnums)(*args)
    return [np.asarray(g) for g in out]


def _torch(x, y, w, cotangent, *, axis: int, ignore_index: int, reduction: str):
    torch = pytest.importorskip("torch")
    leaf = torch.tensor(np.moveaxis(x, axis, 1), requires_grad=True)
    out = torch.nn.functional.cross_entropy(
        leaf,
        torch.tensor(y),
        None if w is None else torch.tensor(w),
        ignore_index=ignore_index,
        reduction=reduction,
    )
    (grad,) = torch.autograd.grad(out, leaf, torch.tensor(cotangent))
    return out.detach().numpy(), np.moveaxis(grad.numpy(), 1, axis)


def _close(got: Any, want: Any, **kw: Any) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-14, **kw)


OPTIONS = [
    pytest.param(
        *combo, id=f"{combo[0][0]}-{'w' if combo[1] is not None else 'nw'}-{combo[2]}-{combo[3]}"
    )
    for combo in itertools.product(
        LAYOUTS,
        [None, WEIGHT],
        [-100, 2, 999],
        REDUCTIONS,  # ignore_index present/a class/absent
    )
]


@pytest.mark.parametrize(("layout", "weight", "ignore_index", "reduction"), OPTIONS)
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_gradients_equal_the_formula_the_generic_and_torch(
    layout, weight, ignore_index, reduction, mode
) -> None:
    _, x, y, axis = layout
    y = np.where(y == -100, {-100: -100, 2: 2, 999: 1}[ignore_index], y)
    options = {"axis": axis, "ignore_index": ignore_index, "reduction": reduction}
    cotangent = _cotangent(reduction, y.shape)
    ours = _ours(y, **options)
    if mode == "jit":
        ours = jax.jit(ours)
    got = _grads(ours, cotangent, x, weight)
    want = _grads(lambda a, w: _formula(a, jnp.asarray(y), w, **options), cotangent, x, weight)
    generic = _dispatch.generic("cross_entropy")

    def plain(a: Any, w: Any) -> Any:
        opts = options | {"axis": axis % x.ndim, "label_smoothing": 0.0}
        return generic(a, jnp.asarray(y), w, backend=_backend.resolve(a), **opts)

    from_generic = _grads(plain, cotangent, x, weight)
    for g, w, h in zip(got, want, from_generic, strict=True):
        _close(g, w)
        _close(g, h)
    value, d_input = _torch(x, y, weight, cotangent, **options)
    _close(got[0], d_input)
    _close(ours(jnp.asarray(x), None if weight is None else jnp.asarray(weight)), value)


def test_the_custom_vjp_is_used_only_where_registered() -> None:
    x, y = jnp.asarray(LAYOUTS[0][1]), jnp.asarray(LAYOUTS[0][2])
    assert "custom_vjp_call" in str(jax.make_jaxpr(lambda a: xloss.cross_entropy(a, y))(x))
    smoothed = jax.make_jaxpr(lambda a: xloss.cross_entropy(a, y, label_smoothing=0.1))(x)
    assert "custom_vjp_call" not in str(smoothed)


ADVERSARIAL = np.array(
    [
        [1e30, 0.0, -1e30, 5.0, 1.0],
        [-np.inf, 1.0, 2.0, -np.inf, 0.0],
        [-np.inf, 1.0, 2.0, -np.inf, 0.0],  # target at a -inf class: loss +inf
        [-np.inf] * 5,
        [np.nan, 1.0, 2.0, 3.0, 4.0],
        [np.inf, 1.0, -np.inf, 2.0, 0.0],
        [np.inf, 1.0, -np.inf, 2.0, 0.0],  # target at the +inf class
        [0.5, 1.0, 2.0, 3.0, 4.0],
        [-np.inf] * 5,  # ignored
        [np.nan, 1.0, 2.0, 3.0, 4.0],  # ignored
        [np.inf, 1.0, -np.inf, 2.0, 0.0],  # ignored
    ]
)
ADVERSARIAL_LABELS = np.array([0, 3, 0, 1, 2, 1, 0, 4, -100, -100, -100])


@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("rows", ["adversarial", "all-ignored"])
def test_adversarial_rows_follow_the_composition_and_the_generic(weight, reduction, rows) -> None:
    x = ADVERSARIAL
    y = ADVERSARIAL_LABELS if rows == "adversarial" else np.full(len(x), -100)
    options = {"axis": 1, "ignore_index": -100, "reduction": reduction}
    cotangent = _cotangent(reduction, y.shape)
    got = _grads(jax.jit(_ours(y, **options)), cotangent, x, weight)
    before = _grads(
        lambda a, w: _composition(a, jnp.asarray(y), w, **options), cotangent, x, weight
    )
    for g, b in zip(got, before, strict=True):
        _close(g, b, equal_nan=True)
    generic = _dispatch.generic("cross_entropy")

    def plain(a: Any, w: Any) -> Any:
        opts = options | {"label_smoothing": 0.0}
        return generic(a, jnp.asarray(y), w, backend=_backend.resolve(a), **opts)

    args = (jnp.asarray(x), None if weight is None else jnp.asarray(weight))
    _close(_ours(y, **options)(*args), plain(*args), equal_nan=True)
    # The generic route's gradient is NaN over whole +inf rows (jax.nn.log_softmax's
    # backward); wherever it is a number, ours is the same number.
    from_generic = _grads(plain, cotangent, x, weight)[0]
    finite = np.isfinite(from_generic)
    if rows == "adversarial" and reduction != "mean":
        assert finite[[0, 1, 2, 7]].all()
    _close(got[0][finite], from_generic[finite])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_out_of_range_labels_give_nan_under_jit(reduction) -> None:
    x, y = LAYOUTS[0][1], np.array([0, 4, -100, 7, 1, -3, 2])  # 7 and -3 cannot be checked
    loss = jax.jit(lambda a: xloss.cross_entropy(a, jnp.asarray(y), reduction=reduction))
    value = np.asarray(loss(jnp.asarray(x)))
    if reduction == "none":
        assert np.isnan(value[[3, 5]]).all()
        assert np.isfinite(value[[0, 1, 2, 4, 6]]).all()
    else:
        assert math.isnan(float(value))
    # as autodiff of the composition: no gradient through the NaN positions
    cotangent = _cotangent(reduction, y.shape)
    options = {"axis": 1, "ignore_index": -100, "reduction": reduction}
    got = _grads(_ours(y, **options), cotangent, x, None)[0]
    want = _grads(lambda a, w: _composition(a, jnp.asarray(y), w, **options), cotangent, x, None)
    _close(got, want[0], equal_nan=True)
    assert (got[[2, 3, 5]] == 0.0).all()


@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
def test_vmap_per_example_gradients(weight) -> None:
    _, x, y, _ = LAYOUTS[2]  # (batch, time, classes): per-example over the batch

    def per_example(loss: Any) -> Any:
        grad = jax.grad(loss, (0,) if weight is None else (0, 2))
        return jax.vmap(grad, in_axes=(0, 0, None))(
            jnp.asarray(x), jnp.asarray(y), None if weight is None else jnp.asarray(weight)
        )

    options = {"axis": -1, "ignore_index": -100, "reduction": "sum"}
    got = per_example(lambda a, t, w: xloss.cross_entropy(a, t, w, **options))
    want = per_example(lambda a, t, w: _formula(a, t, w, **options))
    for g, w in zip(got, want, strict=True):
        _close(g, w)


@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_second_derivatives(weight, reduction) -> None:
    """The backward is jnp ops: grad of grad and jax.hessian work; forward mode is refused."""
    x, y = LAYOUTS[0][1], LAYOUTS[0][2]
    w = None if weight is None else jnp.asarray(weight)
    options = {"ignore_index": -100, "reduction": reduction}

    def ours(a: Any) -> Any:
        return xloss.cross_entropy(a, jnp.asarray(y), w, **options)

    hessian = np.asarray(jax.hessian(ours)(jnp.asarray(x)))
    diagonal = np.einsum("ijij->ij", hessian)
    _close(diagonal, xloss.grad.cross_entropy(x, y, weight, hessian=True, **options)[2])
    written = jax.hessian(lambda a: _formula(a, jnp.asarray(y), w, axis=1, **options))
    _close(hessian, written(jnp.asarray(x)))

    def squared_gradient(loss: Any) -> Any:
        return jax.grad(lambda a: jnp.sum(jax.grad(loss)(a) ** 3))(jnp.asarray(x))

    _close(
        squared_gradient(ours),
        squared_gradient(lambda a: _formula(a, jnp.asarray(y), w, axis=1, **options)),
    )
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(ours, (jnp.asarray(x),), (jnp.ones(x.shape),))


def test_integer_target_gets_a_float0_cotangent() -> None:
    x, y = jnp.asarray(LAYOUTS[0][1]), jnp.asarray(LAYOUTS[0][2])
    _, vjp = jax.vjp(lambda a, t: xloss.cross_entropy(a, t), x, y)
    d_x, d_y = vjp(jnp.asarray(1.0))
    assert d_x.shape == x.shape
    assert d_y.dtype == jax.dtypes.float0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_computes_in_float32(dtype) -> None:
    x, y = LAYOUTS[0][1], LAYOUTS[0][2]
    low = jnp.asarray(x, dtype=dtype)
    got = jax.jit(jax.grad(lambda a: xloss.cross_entropy(a, jnp.asarray(y))))(low)
    assert got.dtype == low.dtype
    widened = jnp.asarray(low, dtype="float32")
    want = jax.grad(
        lambda a: _formula(a, jnp.asarray(y), None, axis=1, ignore_index=-100, reduction="mean")
    )(widened)
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float32),
        np.asarray(want).astype(dtype).astype(np.float32),
        rtol=0,
        atol=float(jnp.finfo(dtype).eps) * 0.3,
    )


def _temp_bytes(loss: Any, *args: Any) -> int:
    compiled = jax.jit(jax.value_and_grad(loss)).lower(*args).compile()
    memory = compiled.memory_analysis()
    if memory is None:
        pytest.skip("this XLA backend reports no memory analysis")
    return int(memory.temp_size_in_bytes)


def test_compiled_backward_keeps_one_logits_sized_buffer_fewer() -> None:
    """With the logits computed in the program (``h @ W``), autodiff of the composition
    keeps ``exp(x - m)`` besides the logits; the custom VJP keeps only the logits."""
    n, d, classes = 512, 16, 4096
    h = jnp.asarray(RNG.normal(size=(n, d)), dtype="float32")
    w = jnp.asarray(RNG.normal(size=(d, classes)) * 0.1, dtype="float32")
    y = jnp.asarray(RNG.integers(0, classes, n))
    options = {"axis": 1, "ignore_index": -100, "reduction": "mean"}
    ours = _temp_bytes(lambda m: xloss.cross_entropy(h @ m, y), w)
    composition = _temp_bytes(lambda m: _composition(h @ m, y, None, **options), w)
    reference = _temp_bytes(lambda m: _formula(h @ m, y, None, **options), w)
    logits = n * classes * 4
    assert ours <= composition - logits // 2, (ours, composition)
    assert ours < reference
