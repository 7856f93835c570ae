r"""Generic definitions of entropy, cross-entropy and KL divergence from logits, with their VJPs.

Every function takes ``backend=`` and uses only array-API standard calls on
``backend.xp``; array arguments arrive in the compute dtype. The values are the ones
:mod:`xloss.info` documents for ``logits=True``: in nats, ``0 log 0 = 0`` (a zero
probability contributes nothing, also against ``log q = -inf``), ``+inf`` where
``q_i = 0 < p_i``, NaN for a slice holding NaN or ``+inf`` (or only ``-inf``).

Registered names and the exact signatures a native entry must accept:

``entropy_logits(x, *, axis, backend)``
    ``x``: logits, ``ndim >= 1``; ``axis``: an int (negative allowed) naming the class
    axis. Returns :math:`-\sum_i \pi_i \log \pi_i` with :math:`\pi = \operatorname{softmax}(x)`,
    of ``x``'s shape without ``axis``.
``cross_entropy_logits(p, q, *, axis, backend)``
    ``p``, ``q``: logits that broadcast together. Returns
    :math:`-\sum_i \pi_i \log \rho_i` (:math:`\rho = \operatorname{softmax}(q)`), of the
    broadcast shape without ``axis``.
``kl_divergence_logits(p, q, *, axis, backend)``
    As ``cross_entropy_logits``; returns :math:`\sum_i \pi_i (\log \pi_i - \log \rho_i)`.

The vector-Jacobian products below are the gradients, written out by hand from the same
pieces: a native entry with a custom backward (``torch.autograd.Function``,
``jax.custom_vjp``) saves only its inputs, the per-slice :func:`log_normaliser` statistics
and the value, and calls them; :mod:`xloss.grad.info` calls them with ``g=None`` (a
cotangent of ones). Given ``stats`` (``(shift, log_sum)`` from :func:`log_normaliser`),
a VJP re-forms the log-probabilities as ``(x - shift) - log_sum``, the very operations of
the generic log-softmax; without them it calls the dispatched ``log_softmax``. Given the
forward ``value`` (nats, of the value's shape) it is not recomputed. Each returns the
gradient in the broadcast shape of its inputs (the caller sums broadcast dimensions
away). They are not written to be differentiated again.
"""

from __future__ import annotations

from xloss._backend import Backend
from xloss._dispatch import call, register_generic
from xloss._typing import Array

from .special import _shifted

__all__ = [
    "cross_entropy_logits",
    "cross_entropy_logits_vjp",
    "cross_entropy_of",
    "entropy_logits",
    "entropy_logits_vjp",
    "entropy_of",
    "kl_divergence_logits",
    "kl_divergence_logits_vjp",
    "kl_divergence_of",
    "log_normaliser",
    "log_probs",
    "times",
]

Stats = tuple[Array, Array]


def times(p: Array, y: Array, backend: Backend) -> Array:
    """``p * y`` with ``0 * y = 0`` (also for an infinite or NaN ``y``), gradient-safe.

    The inner ``where`` keeps the unused product away from ``0 * inf``, so autograd of a
    composition using it multiplies no NaN by a zero cotangent (the double-where trick).
    """
    xp = backend.xp
    zero = p == 0
    return xp.where(zero, 0.0, p * xp.where(zero, 0.0, y))


def log_normaliser(x: Array, *, axis: int, backend: Backend) -> Stats:
    """``(shift, log_sum)``, each keeping ``axis``, with ``log_softmax(x) = (x - shift) - log_sum``.

    ``shift`` is the slice maximum (0 where it is not finite) and ``log_sum`` the log of
    the sum of ``exp(x - shift)``: two values per slice, all a backward needs besides ``x``.
    """
    xp = backend.xp
    shifted, shift = _shifted(x, axis, backend)
    return shift, xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def log_probs(x: Array, stats: Stats | None, *, axis: int, backend: Backend) -> Array:
    """The log-softmax of ``x``: from ``stats`` when given, else the dispatched ``log_softmax``."""
    if stats is None:
        return call("log_softmax", x, axis=axis, backend=backend)
    shift, log_sum = stats
    return (x - shift) - log_sum


def _cotangent(g: Array | None, axis: int, backend: Backend) -> Array | None:
    return None if g is None else backend.xp.expand_dims(g, axis=axis)


def _scaled(gradient: Array, g: Array | None) -> Array:
    return gradient if g is None else gradient * g


# The values from log-probabilities: the generic definitions below and the custom forwards
# that form the log-probabilities from saved statistics share them.


def entropy_of(log_p: Array, *, axis: int, backend: Backend) -> Array:
    """``-sum(p log p)`` along ``axis`` from the log-probabilities."""
    xp = backend.xp
    return -xp.sum(times(xp.exp(log_p), log_p, backend), axis=axis)


def cross_entropy_of(log_p: Array, log_q: Array, *, axis: int, backend: Backend) -> Array:
    """``-sum(p log q)`` along ``axis`` from the log-probabilities."""
    xp = backend.xp
    return -xp.sum(times(xp.exp(log_p), log_q, backend), axis=axis)


def kl_divergence_of(log_p: Array, log_q: Array, *, axis: int, backend: Backend) -> Array:
    """``sum(p (log p - log q))`` along ``axis`` from the log-probabilities."""
    xp = backend.xp
    return xp.sum(times(xp.exp(log_p), log_p - log_q, backend), axis=axis)


@register_generic("entropy_logits")
def entropy_logits(x: Array, *, axis: int, backend: Backend) -> Array:
    log_p = call("log_softmax", x, axis=axis, backend=backend)
    return entropy_of(log_p, axis=axis, backend=backend)


@register_generic("cross_entropy_logits")
def cross_entropy_logits(p: Array, q: Array, *, axis: int, backend: Backend) -> Array:
    log_p = call("log_softmax", p, axis=axis, backend=backend)
    log_q = call("log_softmax", q, axis=axis, backend=backend)
    return cross_entropy_of(log_p, log_q, axis=axis, backend=backend)


@register_generic("kl_divergence_logits")
def kl_divergence_logits(p: Array, q: Array, *, axis: int, backend: Backend) -> Array:
    log_p = call("log_softmax", p, axis=axis, backend=backend)
    log_q = call("log_softmax", q, axis=axis, backend=backend)
    return kl_divergence_of(log_p, log_q, axis=axis, backend=backend)


def entropy_logits_vjp(
    x: Array,
    g: Array | None,
    *,
    axis: int,
    backend: Backend,
    stats: Stats | None = None,
    value: Array | None = None,
) -> Array:
    r"""``g`` times the gradient of ``entropy_logits``: :math:`-\pi_j (\log \pi_j + H)`."""
    xp = backend.xp
    log_p = log_probs(x, stats, axis=axis, backend=backend)
    p = xp.exp(log_p)
    if value is None:
        h = -xp.sum(times(p, log_p, backend), axis=axis, keepdims=True)
    else:
        h = xp.expand_dims(value, axis=axis)
    gradient = 0.0 - times(p, log_p + h, backend)  # +0 at a maximum, not -0
    return _scaled(gradient, _cotangent(g, axis, backend))


def cross_entropy_logits_vjp(
    p: Array,
    q: Array,
    g: Array | None,
    *,
    axis: int,
    backend: Backend,
    stats_p: Stats | None = None,
    stats_q: Stats | None = None,
    value: Array | None = None,
) -> tuple[Array, Array]:
    r"""``g`` times the gradients of ``cross_entropy_logits``.

    :math:`-\pi_j (\log \rho_j + H)` for ``p`` and :math:`\rho_j - \pi_j` for ``q``.
    """
    xp = backend.xp
    p_probs = xp.exp(log_probs(p, stats_p, axis=axis, backend=backend))
    log_q = log_probs(q, stats_q, axis=axis, backend=backend)
    if value is None:
        h = -xp.sum(times(p_probs, log_q, backend), axis=axis, keepdims=True)
    else:
        h = xp.expand_dims(value, axis=axis)
    cotangent = _cotangent(g, axis, backend)
    d_p = _scaled(-times(p_probs, log_q + h, backend), cotangent)
    d_q = _scaled(xp.exp(log_q) - p_probs, cotangent)
    return d_p, d_q


def kl_divergence_logits_vjp(
    p: Array,
    q: Array,
    g: Array | None,
    *,
    axis: int,
    backend: Backend,
    stats_p: Stats | None = None,
    stats_q: Stats | None = None,
    value: Array | None = None,
) -> tuple[Array, Array]:
    r"""``g`` times the gradients of ``kl_divergence_logits``.

    :math:`\pi_j (\log \pi_j - \log \rho_j - D)` for ``p`` and :math:`\rho_j - \pi_j` for ``q``.
    """
    xp = backend.xp
    log_p = log_probs(p, stats_p, axis=axis, backend=backend)
    log_q = log_probs(q, stats_q, axis=axis, backend=backend)
    p_probs = xp.exp(log_p)
    ratio = log_p - log_q
    if value is None:
        kl = xp.sum(times(p_probs, ratio, backend), axis=axis, keepdims=True)
    else:
        kl = xp.expand_dims(value, axis=axis)
    cotangent = _cotangent(g, axis, backend)
    d_p = _scaled(times(p_probs, ratio - kl, backend), cotangent)
    d_q = _scaled(xp.exp(log_q) - p_probs, cotangent)
    return d_p, d_q
