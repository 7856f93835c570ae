"""The custom backwards of entropy / cross-entropy / KL from logits (torch and JAX natives).

References are written out independently (torch autograd and ``jax.grad`` of the plain
log-softmax formulas), never taken from xloss's own output.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import xloss
from xloss import _backend, _dispatch

RNG = np.random.default_rng(808)
NAMES = ("entropy_logits", "cross_entropy_logits", "kl_divergence_logits")
PUBLIC = {
    "entropy_logits": "entropy",
    "cross_entropy_logits": "cross_entropy",
    "kl_divergence_logits": "kl_divergence",
}


def _arity(name: str) -> int:
    return 1 if name == "entropy_logits" else 2


def _data(shape: tuple[int, ...], n: int) -> list[np.ndarray]:
    return [RNG.normal(size=shape) * 3 for _ in range(n)]


# -- torch ---------------------------------------------------------------------------------


def _torch_reference(name: str, *args: Any) -> Any:
    """The plain torch formulas (no guards: finite logits only)."""
    import torch

    log_p = torch.log_softmax(args[0], dim=-1)
    if name == "entropy_logits":
        return -(log_p.exp() * log_p).sum(-1)
    log_q = torch.log_softmax(args[1], dim=-1)
    if name == "cross_entropy_logits":
        return -(log_p.exp() * log_q).sum(-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def _torch_grads(fn: Any, arrays: list[np.ndarray], cotangent: np.ndarray) -> list[np.ndarray]:
    import torch

    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    grads = torch.autograd.grad(out, leaves, torch.tensor(cotangent))
    return [out.detach().numpy(), *(g.numpy() for g in grads)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(7, 11), (2, 3, 6), (9,)])
def test_torch_custom_backward_equals_autograd_of_the_formula(name: str, shape) -> None:
    pytest.importorskip("torch")
    arrays = _data(shape, _arity(name))
    cotangent = RNG.normal(size=shape[:-1])
    public = getattr(xloss.info, PUBLIC[name])
    got = _torch_grads(lambda *a: public(*a, logits=True), arrays, cotangent)
    want = _torch_grads(lambda *a: _torch_reference(name, *a), arrays, cotangent)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)


def _uses_custom_backward(name: str, arrays: list[Any]) -> bool:
    import torch

    seen: list[str] = []
    out = _dispatch.call(name, *arrays, axis=-1, backend=_backend.resolve(*arrays))
    node = out.grad_fn
    while node is not None:
        seen.append(type(node).__name__)
        node = node.next_functions[0][0] if node.next_functions else None
    del torch
    return any("Argument" in s for s in seen)


@pytest.mark.parametrize("name", NAMES)
def test_torch_broadcasting_falls_back_to_autograd(name: str) -> None:
    torch = pytest.importorskip("torch")
    if name == "entropy_logits":
        pytest.skip("one argument: nothing to broadcast")
    p, q = RNG.normal(size=(4, 6)) * 3, RNG.normal(size=(6,)) * 3
    tensors = [torch.tensor(a, requires_grad=True) for a in (p, q)]
    assert not _uses_custom_backward(name, tensors)
    assert _uses_custom_backward(name, [torch.tensor(p, requires_grad=True)] * 2)
    cotangent = np.ones(4)
    public = getattr(xloss.info, PUBLIC[name])
    got = _torch_grads(lambda *a: public(*a, logits=True), [p, q], cotangent)
    want = _torch_grads(lambda *a: _torch_reference(name, *a), [p, q], cotangent)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_torch_func_grad(name: str) -> None:
    torch = pytest.importorskip("torch")
    arrays = [torch.tensor(a) for a in _data((5, 7), _arity(name))]
    public = getattr(xloss.info, PUBLIC[name])
    argnums = tuple(range(len(arrays)))
    got = torch.func.grad(lambda *a: public(*a, logits=True).sum(), argnums=argnums)(*arrays)
    want = torch.func.grad(lambda *a: _torch_reference(name, *a).sum(), argnums=argnums)(*arrays)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_torch_gradients_equal_xloss_grad_info(name: str) -> None:
    pytest.importorskip("torch")
    arrays = _data((6, 9), _arity(name))
    public = getattr(xloss.info, PUBLIC[name])
    got = _torch_grads(lambda *a: public(*a, logits=True), arrays, np.ones(6))
    want = getattr(xloss.grad.info, PUBLIC[name])(*arrays, logits=True)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_torch_hessian_equals_the_formula(name: str) -> None:
    """torch.autograd.functional.hessian (create_graph with a plain ones cotangent: the case
    once_differentiable let through as silent zeros) equals the formula's Hessian."""
    torch = pytest.importorskip("torch")
    arrays = tuple(torch.tensor(a) for a in _data((3, 5), _arity(name)))
    public = getattr(xloss.info, PUBLIC[name])
    assert _uses_custom_backward(name, [a.clone().requires_grad_() for a in arrays])
    got = torch.autograd.functional.hessian(lambda *a: public(*a, logits=True).sum(), arrays)
    want = torch.autograd.functional.hessian(lambda *a: _torch_reference(name, *a).sum(), arrays)
    flat = lambda h: [h] if torch.is_tensor(h) else [b for row in h for b in row]  # noqa: E731
    for g, w in zip(flat(got), flat(want), strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
    assert max(float(g.abs().max()) for g in flat(got)) > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_torch_gradient_penalty_across_blocks(name: str) -> None:
    """A gradient of the gradient (create_graph=True) over several CPU row blocks, with only
    the first argument requiring grad, equals torch autograd of the formula."""
    torch = pytest.importorskip("torch")
    arrays = _data((2100, 1000), _arity(name))  # 2.1e6 elements: two row blocks

    def penalty(fn: Any) -> Any:
        leaves = [torch.tensor(a) for a in arrays]
        leaves[0].requires_grad_()
        (d_first,) = torch.autograd.grad(fn(*leaves).sum(), leaves[0], create_graph=True)
        (second,) = torch.autograd.grad((d_first**2).sum(), leaves[0])
        return d_first.detach(), second

    public = getattr(xloss.info, PUBLIC[name])
    got = penalty(lambda *a: public(*a, logits=True))
    want = penalty(lambda *a: _torch_reference(name, *a))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)


def test_torch_zero_probabilities_match_the_smaller_distribution() -> None:
    """A class with logit -inf has probability 0: the values and the other classes'
    gradients are those of the distribution without it, and its own gradient is 0."""
    pytest.importorskip("torch")
    p, q = _data((3, 6), 2)
    p[:, 2] = -np.inf
    for name in NAMES:
        public = getattr(xloss.info, PUBLIC[name])
        if name == "entropy_logits":
            got = _torch_grads(lambda x, f=public: f(x, logits=True), [p], np.ones(3))
            keep = [0, 1, 3, 4, 5]
            want = _torch_grads(lambda x, n=name: _torch_reference(n, x), [p[:, keep]], np.ones(3))
            np.testing.assert_allclose(got[1][:, keep], want[1], rtol=1e-11, atol=1e-13)
            np.testing.assert_array_equal(got[1][:, 2], 0.0)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
            continue
        # q = 0 where p = 0 too: that class removed from both changes neither distribution
        q2 = q.copy()
        q2[:, 4] = 0.0
        q2[:, 2] = -np.inf
        keep = [0, 1, 3, 4, 5]
        got = _torch_grads(lambda a, b, f=public: f(a, b, logits=True), [p, q2], np.ones(3))
        want = _torch_grads(
            lambda a, b, n=name: _torch_reference(n, a, b), [p[:, keep], q2[:, keep]], np.ones(3)
        )
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1][:, keep], want[1], rtol=1e-11, atol=1e-13)
        np.testing.assert_array_equal(got[1][:, 2], 0.0)
        np.testing.assert_allclose(got[2][:, keep], want[2], rtol=1e-11, atol=1e-13)
        np.testing.assert_array_equal(got[2][:, 2], 0.0)


def _adversarial(c: int, dtype: str) -> np.ndarray:
    x = RNG.normal(size=(9, c)) * 3
    x[1, :5] = -np.inf
    x[2, :] = -np.inf
    x[3, 3] = np.inf
    x[4, 7] = np.nan
    x[5, 0], x[5, 1] = 1e30, -1e30
    x[6, 1] = 3e38 if dtype == "float32" else 1e300
    x[6, 2] = -x[6, 1]
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_blocks_equal_the_definition_on_adversarial_rows(dtype: str) -> None:
    """Rows wide enough that the CPU forward and backward run in several blocks."""
    torch = pytest.importorskip("torch")
    from xloss._dispatch import _torch_info

    c = _torch_info._BLOCK_ELEMENTS // 2  # two rows per block: five blocks for nine rows
    p = torch.asarray(_adversarial(c, dtype))
    q = torch.asarray(np.roll(_adversarial(c, dtype), 4, axis=0))
    backend = _backend.resolve(p)
    for name in NAMES:
        arrays = (p,) if name == "entropy_logits" else (p, q)
        got = _dispatch.native(name, "torch")(*arrays, axis=-1, backend=backend)
        want = _dispatch.generic(name)(*arrays, axis=-1, backend=backend)
        torch.testing.assert_close(
            got, want, rtol=2e-6 if dtype == "float32" else 1e-12, atol=0, equal_nan=True
        )
    if dtype == "float32":
        return
    # gradients on the finite rows (0, 7, 8) and the rows holding -inf or huge logits
    rows = [0, 1, 5, 7, 8]
    finite_p = p[rows].clone()
    finite_q = torch.asarray(RNG.normal(size=finite_p.shape) * 3)
    for name in NAMES:
        arrays = [finite_p] if name == "entropy_logits" else [finite_p, finite_q]
        leaves = [a.clone().requires_grad_(True) for a in arrays]
        out = _dispatch.call(name, *leaves, axis=-1, backend=backend)
        got = torch.autograd.grad(out.sum(), leaves)
        leaves2 = [a.clone().requires_grad_(True) for a in arrays]
        out2 = _dispatch.generic(name)(*leaves2, axis=-1, backend=backend)
        want = torch.autograd.grad(out2.sum(), leaves2)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("wanted", [(True, True), (True, False), (False, True)])
def test_torch_fused_backward_guards_and_partial_gradients(wanted: tuple[bool, bool]) -> None:
    """Several backward blocks; -inf logits of p meeting -inf logits of q (the 0 * inf the
    definition guards, which the fused kernels leave to the generic VJP); gradients asked
    for one argument only: all equal torch autograd of the generic definition."""
    torch = pytest.importorskip("torch")
    from xloss._dispatch import _torch_info

    c = _torch_info._BLOCK_ELEMENTS // 2  # two rows per block: three blocks for five rows
    p = torch.asarray(_adversarial(c, "float64")[[0, 1, 5, 7, 8]])
    q = torch.asarray(RNG.normal(size=p.shape) * 3)
    q[1, :5] = -torch.inf  # where p is -inf too
    q[3, :7] = -torch.inf  # where p is finite: a zero probability of q on p's support
    backend = _backend.resolve(p)
    cotangent = torch.asarray(RNG.normal(size=p.shape[0]))
    for name in NAMES:
        arrays = [p] if name == "entropy_logits" else [p, q]
        flags = wanted[: len(arrays)]
        if not any(flags):
            continue
        results = []
        for fn in (_dispatch.call, lambda n, *a, **k: _dispatch.generic(n)(*a, **k)):
            leaves = [a.clone().requires_grad_(f) for a, f in zip(arrays, flags, strict=True)]
            out = fn(name, *leaves, axis=-1, backend=backend)
            need = [leaf for leaf in leaves if leaf.requires_grad]
            results.append(torch.autograd.grad(out, need, cotangent))
        assert len(results[0]) == sum(flags)
        for g, w in zip(*results, strict=True):
            torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-13, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_torch_saves_no_intermediates(name: str) -> None:
    """Saved for backward: the inputs plus a few numbers per row, nothing else of N x C."""
    torch = pytest.importorskip("torch")
    arrays = [torch.tensor(a, requires_grad=True) for a in _data((64, 100), _arity(name))]
    saved: list[int] = []

    def pack(t: Any) -> Any:
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        getattr(xloss.info, PUBLIC[name])(*arrays, logits=True)
    big = [n for n in saved if n >= 64 * 100]
    assert len(big) == len(arrays), saved
    assert sum(n for n in saved if n < 64 * 100) <= 5 * 64


# -- JAX -----------------------------------------------------------------------------------


def _jax_reference(name: str, *args: Any) -> Any:
    import jax

    log_p = jax.nn.log_softmax(args[0], axis=-1)
    if name == "entropy_logits":
        return -(jax.numpy.exp(log_p) * log_p).sum(-1)
    log_q = jax.nn.log_softmax(args[1], axis=-1)
    if name == "cross_entropy_logits":
        return -(jax.numpy.exp(log_p) * log_q).sum(-1)
    return (jax.numpy.exp(log_p) * (log_p - log_q)).sum(-1)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["eager", "jit", "vmap"])
def test_jax_custom_vjp_equals_grad_of_the_formula(name: str, mode: str) -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    arrays = [jnp.asarray(a) for a in _data((3, 5, 8), _arity(name))]
    public = getattr(xloss.info, PUBLIC[name])
    weights = jnp.asarray(RNG.normal(size=(3, 5)))

    def ours(*a: Any) -> Any:
        return jnp.sum(public(*a, logits=True) * weights)

    def reference(*a: Any) -> Any:
        return jnp.sum(_jax_reference(name, *a) * weights)

    argnums = tuple(range(len(arrays)))
    grad_ours, grad_ref = jax.grad(ours, argnums), jax.grad(reference, argnums)
    if mode == "jit":
        grad_ours = jax.jit(grad_ours)
    if mode == "vmap":  # per-example gradients over the leading axis
        got = jax.vmap(jax.grad(lambda *a: jnp.sum(public(*a, logits=True)), argnums))(*arrays)
        want = jax.vmap(jax.grad(lambda *a: jnp.sum(_jax_reference(name, *a)), argnums))(*arrays)
    else:
        got, want = grad_ours(*arrays), grad_ref(*arrays)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_jax_uses_the_custom_vjp_and_equals_xloss_grad_info(name: str) -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    arrays = _data((4, 6), _arity(name))
    public = getattr(xloss.info, PUBLIC[name])
    loss = lambda *a: jnp.sum(public(*a, logits=True))  # noqa: E731
    argnums = tuple(range(len(arrays)))
    assert "custom_vjp_call" in str(jax.make_jaxpr(loss)(*arrays))
    got = jax.grad(loss, argnums)(*[jnp.asarray(a) for a in arrays])
    want = getattr(xloss.grad.info, PUBLIC[name])(*arrays, logits=True)[1:]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_jax_hessian_works_and_forward_mode_is_refused(name: str) -> None:
    """The backward is jnp operations, so jax.hessian (forward over reverse) equals the
    formula's; JAX refuses forward mode (jvp, jacfwd) on a custom_vjp function itself."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    arrays = [jnp.asarray(a) for a in _data((2, 4), _arity(name))]
    public = getattr(xloss.info, PUBLIC[name])
    argnums = tuple(range(len(arrays)))
    got = jax.hessian(lambda *a: jnp.sum(public(*a, logits=True)), argnums)(*arrays)
    want = jax.hessian(lambda *a: jnp.sum(_jax_reference(name, *a)), argnums)(*arrays)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-11, atol=1e-13)
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(
            lambda a: jnp.sum(public(a, *arrays[1:], logits=True)),
            (arrays[0],),
            (jnp.ones_like(arrays[0]),),
        )


def test_jax_broadcasting_falls_back() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    p, q = jnp.asarray(RNG.normal(size=(4, 6))), jnp.asarray(RNG.normal(size=(6,)))
    backend = _backend.resolve(p, q)
    assert _dispatch.native("kl_divergence_logits", "jax")(p, q, axis=-1, backend=backend) is (
        NotImplemented
    )
    got = jax.grad(lambda a, b: jnp.sum(xloss.info.kl_divergence(a, b, logits=True)), (0, 1))(p, q)
    want = jax.grad(lambda a, b: jnp.sum(_jax_reference("kl", a, b)), (0, 1))(p, q)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-11, atol=1e-13)
    assert math.isfinite(float(xloss.info.kl_divergence(p, q, logits=True)[0]))
