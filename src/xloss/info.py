"""Information theory on discrete distributions: entropy, cross-entropy, KL and JS divergence.

Distributions lie along ``axis`` (default the last). Given as probabilities
(``logits=False``) they are normalised by their sums along ``axis``, as
``scipy.stats.entropy`` does; given as logits (``logits=True``: logits or
log-probabilities, any additive constant per slice) they are normalised with a stable
log-softmax. Results are in nats, or in the unit of ``base`` (``base=2``: bits).

Conventions: ``0 log 0 = 0``; ``KL(p || q) = +inf`` where ``q = 0 < p``; NaN in gives NaN
out. Negative probabilities raise ``ValueError`` where values may be inspected (NumPy,
array-api-strict, torch on the CPU) and give NaN elsewhere (GPU, JAX, Dask), so no
device sync or trace break is ever forced.

The logits forms of entropy, cross-entropy and KL divergence run through
:mod:`xloss._dispatch` (``entropy_logits``, ``cross_entropy_logits``,
``kl_divergence_logits``, defined in ``xloss/_agnostic/info.py``), so torch and JAX can
substitute an implementation whose backward is the hand-written gradient of
:mod:`xloss.grad.info` and saves two numbers per slice instead of the log-probabilities.
"""

from __future__ import annotations

import math

from . import _agnostic  # noqa: F401  (registers the generic definitions)
from ._agnostic.info import times
from ._backend import Backend, check_base, floating_inputs, quiet, resolve, to_dtype
from ._dispatch import call
from ._typing import Array

__all__ = ["cross_entropy", "entropy", "js_divergence", "kl_divergence"]


def _check_probabilities(p: Array, name: str, backend: Backend) -> Array:
    """Raise for negative probabilities where values may be read, else turn them into NaN."""
    xp = backend.xp
    negative = p < 0
    if backend.inspectable:
        if bool(xp.any(negative)):
            raise ValueError(
                f"xloss: {name} must be non-negative probabilities, got a negative entry"
            )
        return p
    return xp.where(negative, math.nan, p)


def _normalise(p: Array, axis: int, name: str, backend: Backend) -> Array:
    p = _check_probabilities(p, name, backend)
    return p / backend.xp.sum(p, axis=axis, keepdims=True)


def _log_probs(logits: Array, axis: int, backend: Backend) -> tuple[Array, Array]:
    """Probabilities and log-probabilities from logits, each computed once."""
    log_p = call("log_softmax", logits, axis=axis, backend=backend)
    return backend.xp.exp(log_p), log_p


def _in_base(value: Array, log_base: float | None) -> Array:
    return value if log_base is None else value / log_base


@quiet
def entropy(
    p: Array, /, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> Array:
    r"""Shannon entropy of the distributions along ``axis``.

    .. math:: H(p) = -\sum_i p_i \log p_i

    Parameters
    ----------
    p : array
        Probabilities (normalised along ``axis`` first), or logits when ``logits=True``.
    axis : int, optional
        The axis holding each distribution (default ``-1``).
    base : float, optional
        Logarithm base of the result: ``None`` for nats (default), ``2`` for bits.
    logits : bool, optional
        Whether ``p`` holds logits (unnormalised log-probabilities).

    Returns
    -------
    array
        ``p``'s shape without ``axis``.

    See Also
    --------
    scipy.stats.entropy : the same value with ``qk=None`` (its ``axis`` defaults to 0).

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.info import entropy
    >>> float(entropy(np.array([0.5, 0.5]), base=2))
    1.0
    >>> float(entropy(np.array([0.0, 0.0]), logits=True))  # uniform over two: log 2 nats
    0.6931471805599453
    """
    log_base = check_base(base)
    backend = resolve(p)
    (p,), out_dtype = floating_inputs(backend, p=p)
    if logits:
        value = call("entropy_logits", p, axis=axis, backend=backend)
    else:
        value = backend.xp.sum(
            call("entr", _normalise(p, axis, "p", backend), backend=backend), axis=axis
        )
    return to_dtype(_in_base(value, log_base), out_dtype, backend)


def _two_distributions(
    p: Array, q: Array, axis: int, logits: bool, backend: Backend
) -> tuple[Array, Array, Array | None, Array | None]:
    """``(p, q, log p, log q)`` normalised; the logs only in the logits form."""
    if logits:
        p_probs, log_p = _log_probs(p, axis, backend)
        q_probs, log_q = _log_probs(q, axis, backend)
        return p_probs, q_probs, log_p, log_q
    return _normalise(p, axis, "p", backend), _normalise(q, axis, "q", backend), None, None


@quiet
def cross_entropy(
    p: Array, q: Array, /, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> Array:
    r"""Cross-entropy ``H(p, q)`` of ``q`` relative to ``p`` along ``axis``.

    .. math:: H(p, q) = -\sum_i p_i \log q_i = H(p) + D_{\mathrm{KL}}(p \,\|\, q)

    Parameters
    ----------
    p, q : array
        Probabilities (each normalised along ``axis``), or logits when ``logits=True``.
        Broadcast together.
    axis : int, optional
        The axis holding each distribution (default ``-1``).
    base : float, optional
        Logarithm base: ``None`` for nats (default), ``2`` for bits.
    logits : bool, optional
        Whether ``p`` and ``q`` hold logits.

    Returns
    -------
    array
        The broadcast shape without ``axis``; ``+inf`` where ``q_i = 0 < p_i``.

    See Also
    --------
    scipy.stats.entropy : ``entropy(pk) + entropy(pk, qk)`` is the same quantity.
    xloss.cross_entropy : the loss on logits and class labels (PyTorch semantics).

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.info import cross_entropy
    >>> float(cross_entropy(np.array([1.0, 0.0]), np.array([0.5, 0.5]), base=2))
    1.0
    """
    log_base = check_base(base)
    backend = resolve(p, q)
    (p, q), out_dtype = floating_inputs(backend, p=p, q=q)
    if logits:
        value = call("cross_entropy_logits", p, q, axis=axis, backend=backend)
    else:
        p, q, _, _ = _two_distributions(p, q, axis, logits, backend)
        value = -backend.xp.sum(call("xlogy", p, q, backend=backend), axis=axis)
    return to_dtype(_in_base(value, log_base), out_dtype, backend)


@quiet
def kl_divergence(
    p: Array, q: Array, /, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> Array:
    r"""Kullback-Leibler divergence ``KL(p || q)`` along ``axis``.

    .. math:: D_{\mathrm{KL}}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i}

    Parameters
    ----------
    p, q : array
        Probabilities (each normalised along ``axis``), or logits when ``logits=True``
        (e.g. teacher and student logits in distillation). Broadcast together.
    axis : int, optional
        The axis holding each distribution (default ``-1``).
    base : float, optional
        Logarithm base: ``None`` for nats (default), ``2`` for bits.
    logits : bool, optional
        Whether ``p`` and ``q`` hold logits.

    Returns
    -------
    array
        The broadcast shape without ``axis``; non-negative; ``+inf`` where ``q_i = 0 < p_i``.

    See Also
    --------
    scipy.stats.entropy : ``entropy(pk, qk)`` is the same value.
    scipy.special.rel_entr : the summand.
    xloss.kl_div : PyTorch's ``kl_div`` (log-probability input, pointwise reductions).

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.info import kl_divergence
    >>> float(kl_divergence(np.array([0.5, 0.5]), np.array([0.25, 0.75]), base=2))
    0.20751874963942185
    """
    log_base = check_base(base)
    backend = resolve(p, q)
    (p, q), out_dtype = floating_inputs(backend, p=p, q=q)
    if logits:
        value = call("kl_divergence_logits", p, q, axis=axis, backend=backend)
    else:
        p, q, _, _ = _two_distributions(p, q, axis, logits, backend)
        value = backend.xp.sum(call("rel_entr", p, q, backend=backend), axis=axis)
    return to_dtype(_in_base(value, log_base), out_dtype, backend)


@quiet
def js_divergence(
    p: Array, q: Array, /, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> Array:
    r"""Jensen-Shannon divergence: the mean KL divergence of ``p`` and ``q`` from their mixture.

    .. math:: \mathrm{JS}(p, q) = \tfrac12 D_{\mathrm{KL}}(p \,\|\, m) + \tfrac12 D_{\mathrm{KL}}(q \,\|\, m),
              \qquad m = \tfrac12 (p + q)

    Symmetric, bounded by ``log 2`` (1 bit), and its square root is a metric.

    Parameters
    ----------
    p, q : array
        Probabilities (each normalised along ``axis``), or logits when ``logits=True``.
        Broadcast together.
    axis : int, optional
        The axis holding each distribution (default ``-1``).
    base : float, optional
        Logarithm base: ``None`` for nats (default), ``2`` for bits.
    logits : bool, optional
        Whether ``p`` and ``q`` hold logits.

    Returns
    -------
    array
        The broadcast shape without ``axis``, in ``[0, log 2]`` nats.

    See Also
    --------
    scipy.spatial.distance.jensenshannon : its square is this value.

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.info import js_divergence
    >>> float(js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]), base=2))
    1.0
    """
    log_base = check_base(base)
    backend = resolve(p, q)
    (p, q), out_dtype = floating_inputs(backend, p=p, q=q)
    xp = backend.xp
    p, q, log_p, log_q = _two_distributions(p, q, axis, logits, backend)
    if log_p is None:
        m = (p + q) / 2
        terms = call("rel_entr", p, m, backend=backend) + call("rel_entr", q, m, backend=backend)
    else:
        # log m = logaddexp(log p, log q) - log 2, exact where either probability underflows.
        log_m = xp.logaddexp(log_p, log_q) - math.log(2.0)
        terms = times(p, log_p - log_m, backend) + times(q, log_q - log_m, backend)
    value = xp.sum(terms, axis=axis) / 2
    return to_dtype(_in_base(value, log_base), out_dtype, backend)
