"""Gradients of the information-theory functions of :mod:`xloss.info` with respect to logits.

Each function returns the value exactly as :mod:`xloss.info` computes it (with
``logits=True``: the same dispatched ``entropy_logits`` / ``cross_entropy_logits`` /
``kl_divergence_logits`` call) and its derivative with respect to each logits argument:
the vector-Jacobian products of ``xloss/_agnostic/info.py`` with a cotangent of ones,
the very pieces the torch and JAX custom backwards of those names run. The derivatives
of a distribution's logits sum to zero along ``axis`` (adding a constant to a slice of
logits changes nothing).
"""

from __future__ import annotations

from xloss._agnostic import info as _generic
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


def _value(value: Array, log_base: float | None, out_dtype: object, backend: Backend) -> Array:
    """The value as :mod:`xloss.info` returns it: in ``base`` units, in the caller's dtype."""
    return to_dtype(value if log_base is None else value / log_base, out_dtype, backend)


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
    log_base = check_base(base)
    backend = resolve(p)
    (p,), out_dtype = floating_inputs(backend, p=p)
    value = call("entropy_logits", p, axis=axis, backend=backend)
    gradient = _generic.entropy_logits_vjp(p, None, axis=axis, backend=backend, value=value)
    return (
        _value(value, log_base, out_dtype, backend),
        _out(gradient, tuple(p.shape), log_base, out_dtype, backend),
    )


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
    log_base = check_base(base)
    backend = resolve(p, q)
    (p, q), out_dtype = floating_inputs(backend, p=p, q=q)
    value = call("cross_entropy_logits", p, q, axis=axis, backend=backend)
    d_p, d_q = _generic.cross_entropy_logits_vjp(
        p, q, None, axis=axis, backend=backend, value=value
    )
    return (
        _value(value, log_base, out_dtype, backend),
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
    log_base = check_base(base)
    backend = resolve(p, q)
    (p, q), out_dtype = floating_inputs(backend, p=p, q=q)
    value = call("kl_divergence_logits", p, q, axis=axis, backend=backend)
    d_p, d_q = _generic.kl_divergence_logits_vjp(
        p, q, None, axis=axis, backend=backend, value=value
    )
    return (
        _value(value, log_base, out_dtype, backend),
        _out(d_p, tuple(p.shape), log_base, out_dtype, backend),
        _out(d_q, tuple(q.shape), log_base, out_dtype, backend),
    )
