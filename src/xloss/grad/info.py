"""Gradients of the information-theory functions of :mod:`xloss.info` with respect to logits.

Each function returns the value exactly as :mod:`xloss.info` computes it (with
``logits=True``) and its derivative with respect to each logits argument, written out
from the same log-softmax and softmax. The derivatives of a distribution's logits sum to
zero along ``axis`` (adding a constant to a slice of logits changes nothing).
"""

from __future__ import annotations

from xloss import _agnostic  # noqa: F401  (registers the generic primitives)
from xloss import info as _info
from xloss._backend import Backend, check_base, floating_inputs, quiet, resolve, to_dtype
from xloss._dispatch import call
from xloss._typing import Array

from ._common import unbroadcast

__all__ = ["cross_entropy", "entropy", "kl_divergence"]


def _need_logits(logits: bool) -> None:
    if not logits:
        raise ValueError(
            "xloss: xloss.grad.info differentiates with respect to logits; pass logits=True "
            "(for probabilities, take logits = log p: the value is the same)"
        )


def _log_probs(logits: Array, axis: int, backend: Backend) -> tuple[Array, Array]:
    log_p = call("log_softmax", logits, axis=axis, backend=backend)
    return backend.xp.exp(log_p), log_p


def _times(p: Array, x: Array, backend: Backend) -> Array:
    """``p * x`` with ``0 * x = 0`` (also for an infinite ``x``), gradient-safe."""
    xp = backend.xp
    zero = p == 0
    return xp.where(zero, 0.0, p * xp.where(zero, 0.0, x))


def _out(
    gradient: Array,
    shape: tuple[int, ...],
    log_base: float | None,
    out_dtype: object,
    backend: Backend,
) -> Array:
    if log_base is not None:
        gradient = gradient / log_base
    return to_dtype(unbroadcast(gradient, shape, backend), out_dtype, backend)


@quiet
def entropy(
    p: Array, /, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> tuple[Array, Array]:
    r"""Shannon entropy of ``softmax(p)`` and its gradient with respect to the logits ``p``.

    .. math:: \frac{\partial H}{\partial z_j} = -\pi_j \left(\log \pi_j + H\right),
              \qquad \pi = \operatorname{softmax}(z)

    Parameters
    ----------
    p : array
        Logits (``logits=True`` is required).
    axis, base
        As :func:`xloss.info.entropy`.
    logits : bool
        Must be ``True``.

    Returns
    -------
    tuple of array
        ``(value, d_p)``: the value as :func:`xloss.info.entropy` returns it and the
        gradient of its sum, of ``p``'s shape.

    See Also
    --------
    xloss.info.entropy : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> value, d_p = xloss.grad.info.entropy(np.array([0.0, 0.0]), logits=True)
    >>> float(value), d_p  # the uniform distribution is a maximum: zero gradient
    (0.6931471805599453, array([0., 0.]))
    """
    _need_logits(logits)
    value = _info.entropy(p, axis=axis, base=base, logits=True)
    log_base = check_base(base)
    backend = resolve(p)
    (p,), out_dtype = floating_inputs(backend, p=p)
    xp = backend.xp
    probs, log_p = _log_probs(p, axis, backend)
    h = -xp.sum(_times(probs, log_p, backend), axis=axis, keepdims=True)
    gradient = 0.0 - _times(probs, log_p + h, backend)  # +0 at a maximum, not -0
    return value, _out(gradient, tuple(p.shape), log_base, out_dtype, backend)


@quiet
def cross_entropy(
    p: Array, q: Array, /, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> tuple[Array, Array, Array]:
    r"""Cross-entropy ``H(p, q)`` of two logits arrays and its gradients with respect to both.

    .. math:: \frac{\partial H}{\partial z^p_j} = -\pi_j \left(\log \rho_j + H\right),
              \qquad \frac{\partial H}{\partial z^q_j} = \rho_j - \pi_j

    with :math:`\pi = \operatorname{softmax}(z^p)` and :math:`\rho = \operatorname{softmax}(z^q)`.

    Parameters
    ----------
    p, q : array
        Logits (``logits=True`` is required), broadcast together.
    axis, base
        As :func:`xloss.info.cross_entropy`.
    logits : bool
        Must be ``True``.

    Returns
    -------
    tuple of array
        ``(value, d_p, d_q)``; each gradient (of the sum of the value) has its argument's
        shape (summed over broadcast dimensions).

    See Also
    --------
    xloss.info.cross_entropy : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> value, d_p, d_q = xloss.grad.info.cross_entropy(
    ...     np.array([0.0, 0.0]), np.array([0.0, 0.0]), logits=True
    ... )
    >>> float(value), d_q
    (0.6931471805599453, array([0., 0.]))
    """
    _need_logits(logits)
    value = _info.cross_entropy(p, q, axis=axis, base=base, logits=True)
    log_base = check_base(base)
    backend = resolve(p, q)
    (p, q), out_dtype = floating_inputs(backend, p=p, q=q)
    xp = backend.xp
    p_probs, _ = _log_probs(p, axis, backend)
    q_probs, log_q = _log_probs(q, axis, backend)
    h = -xp.sum(_times(p_probs, log_q, backend), axis=axis, keepdims=True)
    d_p = -_times(p_probs, log_q + h, backend)
    d_q = q_probs - p_probs
    return (
        value,
        _out(d_p, tuple(p.shape), log_base, out_dtype, backend),
        _out(d_q, tuple(q.shape), log_base, out_dtype, backend),
    )


@quiet
def kl_divergence(
    p: Array, q: Array, /, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> tuple[Array, Array, Array]:
    r"""``KL(p || q)`` of two logits arrays and its gradients with respect to both.

    .. math:: \frac{\partial D}{\partial z^p_j} = \pi_j \left(\log \frac{\pi_j}{\rho_j}
              - D\right), \qquad \frac{\partial D}{\partial z^q_j} = \rho_j - \pi_j

    with :math:`\pi = \operatorname{softmax}(z^p)` and :math:`\rho = \operatorname{softmax}(z^q)`
    (the distillation gradient: student logits ``q``, teacher logits ``p``).

    Parameters
    ----------
    p, q : array
        Logits (``logits=True`` is required), broadcast together.
    axis, base
        As :func:`xloss.info.kl_divergence`.
    logits : bool
        Must be ``True``.

    Returns
    -------
    tuple of array
        ``(value, d_p, d_q)``; each gradient (of the sum of the value) has its argument's
        shape.

    See Also
    --------
    xloss.info.kl_divergence : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> value, d_p, d_q = xloss.grad.info.kl_divergence(
    ...     np.array([0.0, 0.0]), np.array([0.0, np.log(3.0)]), logits=True
    ... )
    >>> d_q
    array([-0.25,  0.25])
    """
    _need_logits(logits)
    value = _info.kl_divergence(p, q, axis=axis, base=base, logits=True)
    log_base = check_base(base)
    backend = resolve(p, q)
    (p, q), out_dtype = floating_inputs(backend, p=p, q=q)
    xp = backend.xp
    p_probs, log_p = _log_probs(p, axis, backend)
    q_probs, log_q = _log_probs(q, axis, backend)
    ratio = log_p - log_q
    kl = xp.sum(_times(p_probs, ratio, backend), axis=axis, keepdims=True)
    d_p = _times(p_probs, ratio - kl, backend)
    d_q = q_probs - p_probs
    return (
        value,
        _out(d_p, tuple(p.shape), log_base, out_dtype, backend),
        _out(d_q, tuple(q.shape), log_base, out_dtype, backend),
    )
