"""Custom backwards of entropy / KL from logits: xloss vs the native composition vs the generic.

torch CPU at (1024, 32000) float32, forward and forward+backward, three implementations in
the same run: xloss (the custom ``autograd.Function``), the native torch composition, and
the plain xloss generic composition (``xloss._dispatch.generic``, torch autograd through
it). ``extra_info['saved_bytes']`` is what autograd keeps for the backward beyond the
inputs. JAX rows: ``jax.jit`` forward+backward of the custom VJP vs ``jax.grad`` of the
generic composition, with XLA's temporary bytes from ``memory_analysis()``; and the JAX
index-target cross-entropy (custom VJP) at (2048, 32000) against the hand-written
``jax.nn.log_softmax`` loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import xloss
from conftest import needs_jax, needs_torch, saved_bytes

SHAPE = (1024, 32000)
SHAPE_TEXT = "x".join(map(str, SHAPE))
IMPLS = ["xloss", "torch", "generic"]


def _logits(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(SHAPE, dtype=np.float32) * 2


def _torch_fns(name: str) -> dict[str, Any]:
    import torch.nn.functional as F

    from xloss import _backend, _dispatch

    def native_entropy(x: Any) -> Any:
        log_p = x.log_softmax(-1)
        return -(log_p.exp() * log_p).sum(-1)

    def native_kl(p: Any, q: Any) -> Any:
        return F.kl_div(
            q.log_softmax(-1), p.log_softmax(-1), reduction="none", log_target=True
        ).sum(-1)

    generic = _dispatch.generic(name + "_logits")

    def plain(*a: Any) -> Any:
        return generic(*a, axis=-1, backend=_backend.resolve(*a))

    public = getattr(xloss.info, name)
    return {
        "xloss": lambda *a: public(*a, logits=True),
        "torch": native_entropy if name == "entropy" else native_kl,
        "generic": plain,
    }


@needs_torch
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", ["entropy", "kl_divergence"])
def test_info_from_logits_torch(benchmark, name, impl, backward):
    import torch

    mode = "fwd+bwd" if backward else "fwd-with-grad"
    benchmark.group = f"{name}(logits) {mode} torch-cpu f32"
    arity = 1 if name == "entropy" else 2
    arrays = [torch.asarray(_logits(seed)).requires_grad_(backward) for seed in range(arity)]
    fn = _torch_fns(name)[impl]

    def run():
        out = fn(*arrays)
        if backward:
            out.sum().backward()
            for a in arrays:
                a.grad = None
        return out

    info = {"impl": impl, "backend": "torch-cpu", "dtype": "float32", "shape": SHAPE_TEXT}
    if backward:
        info["saved_bytes"] = saved_bytes(fn, *arrays)
    benchmark.extra_info.update(info)
    benchmark(run)


@needs_jax
@pytest.mark.parametrize("impl", ["xloss", "generic"])
@pytest.mark.parametrize("name", ["entropy", "kl_divergence"])
def test_info_from_logits_jax(benchmark, name, impl):
    import jax
    import jax.numpy as jnp

    from xloss import _backend, _dispatch

    benchmark.group = f"{name}(logits) fwd+bwd jax-jit f32"
    arity = 1 if name == "entropy" else 2
    arrays = [jnp.asarray(_logits(seed)) for seed in range(arity)]
    if impl == "xloss":
        public = getattr(xloss.info, name)

        def loss(*a: Any) -> Any:
            return jnp.sum(public(*a, logits=True))
    else:
        generic = _dispatch.generic(name + "_logits")

        def loss(*a: Any) -> Any:
            return jnp.sum(generic(*a, axis=-1, backend=_backend.resolve(*a)))

    grad = jax.jit(jax.grad(loss, argnums=tuple(range(arity))))
    memory = grad.lower(*arrays).compile().memory_analysis()
    benchmark.extra_info.update(
        impl=impl,
        backend="jax-jit",
        dtype="float32",
        shape=SHAPE_TEXT,
        temp_bytes=int(memory.temp_size_in_bytes) if memory is not None else None,
    )
    jax.block_until_ready(grad(*arrays))
    benchmark(lambda: jax.block_until_ready(grad(*arrays)))


@needs_jax
@pytest.mark.parametrize("impl", ["xloss", "jax.nn"])
def test_cross_entropy_index_jax(benchmark, impl):
    """Index-target cross-entropy (issue #8): the custom VJP vs the hand-written jax.nn loss."""
    import jax
    import jax.numpy as jnp

    benchmark.group = "cross_entropy fwd+bwd jax-jit f32"
    n, c = 2048, 32000
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.standard_normal((n, c), dtype=np.float32) * 3)
    labels = jnp.asarray(rng.integers(0, c, n))
    if impl == "xloss":

        def loss(x: Any) -> Any:
            return xloss.cross_entropy(x, labels)
    else:

        def loss(x: Any) -> Any:
            log_p = jax.nn.log_softmax(x, axis=-1)
            return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=-1))

    step = jax.jit(jax.value_and_grad(loss))
    memory = step.lower(logits).compile().memory_analysis()
    benchmark.extra_info.update(
        impl=impl,
        backend="jax-jit",
        dtype="float32",
        shape=f"{n}x{c}",
        temp_bytes=int(memory.temp_size_in_bytes) if memory is not None else None,
    )
    jax.block_until_ready(step(logits))
    benchmark(lambda: jax.block_until_ready(step(logits)))
