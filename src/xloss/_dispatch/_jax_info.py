"""JAX native entries for the information-theory functions on logits (custom backward).

``entropy_logits``, ``cross_entropy_logits`` and ``kl_divergence_logits`` (signatures in
``xloss/_agnostic/info.py``) as ``jax.custom_vjp`` functions: the forward is the generic
definition; the residuals are the inputs, the value and two numbers per slice
(:func:`xloss._agnostic.info.log_normaliser`'s shift and log-sum) instead of the
N x C log-probabilities and products autodiff would keep; the backward is the generic
VJP, the same pieces as :mod:`xloss.grad.info`. They work under ``jit``, ``grad`` and
``vmap`` (JAX batches both halves of a ``custom_vjp``). Arguments of different shapes
(broadcasting), 0-d and empty inputs are declined, since a custom VJP must return
cotangents of its inputs' own shapes.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from xloss._agnostic import info as generic
from xloss._backend import Backend
from xloss._dispatch import generic as definition
from xloss._dispatch import register

# Traced arrays carry no device; the generic pieces only need the namespace.
_BACKEND = Backend(jnp, "jax", None, False)


def _declined(*arrays: Any) -> bool:
    first = arrays[0]
    return first.ndim == 0 or first.size == 0 or any(a.shape != first.shape for a in arrays[1:])


def _stats(x: Any, axis: int) -> tuple[Any, Any]:
    return generic.log_normaliser(x, axis=axis, backend=_BACKEND)


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _entropy(x: Any, axis: int) -> Any:
    return definition("entropy_logits")(x, axis=axis, backend=_BACKEND)


def _entropy_fwd(x: Any, axis: int) -> tuple[Any, Any]:
    stats = _stats(x, axis)
    log_p = generic.log_probs(x, stats, axis=axis, backend=_BACKEND)
    value = generic.entropy_of(log_p, axis=axis, backend=_BACKEND)
    return value, (x, value, stats)


def _entropy_bwd(axis: int, residuals: Any, g: Any) -> tuple[Any]:
    x, value, stats = residuals
    return (
        generic.entropy_logits_vjp(x, g, axis=axis, backend=_BACKEND, stats=stats, value=value),
    )


_entropy.defvjp(_entropy_fwd, _entropy_bwd)


def _two(name: str) -> Any:
    vjp = getattr(generic, name + "_vjp")
    of = getattr(generic, name.removesuffix("_logits") + "_of")

    @partial(jax.custom_vjp, nondiff_argnums=(2,))
    def function(p: Any, q: Any, axis: int) -> Any:
        return definition(name)(p, q, axis=axis, backend=_BACKEND)

    def forward(p: Any, q: Any, axis: int) -> tuple[Any, Any]:
        stats_p, stats_q = _stats(p, axis), _stats(q, axis)
        log_p = generic.log_probs(p, stats_p, axis=axis, backend=_BACKEND)
        log_q = generic.log_probs(q, stats_q, axis=axis, backend=_BACKEND)
        value = of(log_p, log_q, axis=axis, backend=_BACKEND)
        return value, (p, q, value, stats_p, stats_q)

    def backward(axis: int, residuals: Any, g: Any) -> tuple[Any, Any]:
        p, q, value, stats_p, stats_q = residuals
        d_p, d_q = vjp(
            p, q, g, axis=axis, backend=_BACKEND, stats_p=stats_p, stats_q=stats_q, value=value
        )
        return d_p, d_q

    function.defvjp(forward, backward)
    return function


_cross_entropy = _two("cross_entropy_logits")
_kl_divergence = _two("kl_divergence_logits")


@register("entropy_logits", "jax")
def entropy_logits(x: Any, *, axis: int, backend: Backend) -> Any:
    if _declined(x):
        return NotImplemented
    return _entropy(x, axis)


@register("cross_entropy_logits", "jax")
def cross_entropy_logits(p: Any, q: Any, *, axis: int, backend: Backend) -> Any:
    if _declined(p, q):
        return NotImplemented
    return _cross_entropy(p, q, axis)


@register("kl_divergence_logits", "jax")
def kl_divergence_logits(p: Any, q: Any, *, axis: int, backend: Backend) -> Any:
    if _declined(p, q):
        return NotImplemented
    return _kl_divergence(p, q, axis)
