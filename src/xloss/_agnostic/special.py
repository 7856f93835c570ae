"""Generic definitions of the stable primitives (see :mod:`xloss.special` for the docs).

Every function takes ``backend=`` and uses only array-API standard calls on
``backend.xp``. Inputs are already in the compute dtype.
"""

from __future__ import annotations

import math

from xloss._backend import Backend, stop_gradient
from xloss._dispatch import register_generic
from xloss._typing import Array

__all__ = [
    "entr",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "rel_entr",
    "sigmoid",
    "softmax",
    "softplus",
    "xlog1py",
    "xlogy",
]


def _axes(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim if ndim else a for a in axis)


def _shifted(x: Array, axis: int | tuple[int, ...] | None, backend: Backend) -> tuple[Array, Array]:
    """``x - m`` and ``m``, with ``m`` the max along ``axis`` replaced by 0 where it is not finite.

    Replacing a non-finite max keeps rows of all ``-inf`` at ``-inf`` (instead of
    ``-inf - -inf = nan``) and lets ``+inf``/NaN propagate the way ``scipy.special`` does.
    The shift is held constant for autograd: it cancels exactly in the value, and its own
    derivative would only add rounding noise.
    """
    xp = backend.xp
    if 0 in x.shape:  # an empty batch: no max to take (Dask raises on it, NumPy does not)
        axes = _axes(axis, x.ndim)
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return x, backend.full(shape, 0.0, x.dtype)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    m = stop_gradient(m, backend)
    return x - m, m


@register_generic("logsumexp")
def logsumexp(
    x: Array, *, axis: int | tuple[int, ...] | None, keepdims: bool, backend: Backend
) -> Array:
    xp = backend.xp
    axes = _axes(axis, x.ndim)
    if any(x.shape[a] == 0 for a in axes):  # static shape: log(0) = -inf, as SciPy
        out_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        out = backend.full(out_shape, -math.inf, x.dtype)
        return (
            out
            if keepdims
            else xp.reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
        )
    shifted, m = _shifted(x, axes, backend)
    out = xp.log(xp.sum(xp.exp(shifted), axis=axes, keepdims=True)) + m
    if keepdims:
        return out
    return xp.squeeze(out, axis=axes) if axes else out


@register_generic("log_softmax")
def log_softmax(x: Array, *, axis: int, backend: Backend) -> Array:
    xp = backend.xp
    shifted, _ = _shifted(x, axis, backend)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


@register_generic("softmax")
def softmax(x: Array, *, axis: int, backend: Backend) -> Array:
    xp = backend.xp
    shifted, _ = _shifted(x, axis, backend)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=axis, keepdims=True)


@register_generic("sigmoid")
def sigmoid(x: Array, *, backend: Backend) -> Array:
    xp = backend.xp
    # exp(-|x|) never overflows; the two branches are the same function written for each sign.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@register_generic("softplus")
def softplus(x: Array, *, backend: Backend) -> Array:
    xp = backend.xp
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


@register_generic("log_sigmoid")
def log_sigmoid(x: Array, *, backend: Backend) -> Array:
    xp = backend.xp
    return xp.minimum(x, 0.0) - xp.log1p(xp.exp(-xp.abs(x)))


def _zero_unless_nan(x: Array, y: Array, backend: Backend) -> Array:
    """0 where ``y`` is not NaN, NaN where it is (the value of ``0 * log(y)`` we define)."""
    xp = backend.xp
    return xp.where(xp.isnan(y), y, 0.0)


@register_generic("xlogy")
def xlogy(x: Array, y: Array, *, backend: Backend) -> Array:
    xp = backend.xp
    zero_x = x == 0
    # The inner where keeps log() away from y = 0 where x = 0, so the unused branch has no
    # inf/NaN that autograd would multiply by a zero cotangent (the double-where trick).
    safe_y = xp.where(zero_x, 1.0, y)
    return xp.where(zero_x, _zero_unless_nan(x, y, backend), x * xp.log(safe_y))


@register_generic("xlog1py")
def xlog1py(x: Array, y: Array, *, backend: Backend) -> Array:
    xp = backend.xp
    zero_x = x == 0
    safe_y = xp.where(zero_x, 0.0, y)
    return xp.where(zero_x, _zero_unless_nan(x, y, backend), x * xp.log1p(safe_y))


@register_generic("entr")
def entr(p: Array, *, backend: Backend) -> Array:
    xp = backend.xp
    positive = p > 0
    safe_p = xp.where(positive, p, 1.0)
    value = -p * xp.log(safe_p)
    out = xp.where(positive, value, -math.inf)
    out = xp.where(p == 0, 0.0, out)
    return xp.where(xp.isnan(p), p, out)


@register_generic("rel_entr")
def rel_entr(x: Array, y: Array, *, backend: Backend) -> Array:
    xp = backend.xp
    both_positive = (x > 0) & (y > 0)
    safe_x = xp.where(both_positive, x, 1.0)
    safe_y = xp.where(both_positive, y, 1.0)
    value = safe_x * xp.log(safe_x / safe_y)
    zero_case = (x == 0) & (y >= 0)
    out = xp.where(both_positive, value, math.inf)
    out = xp.where(zero_case, 0.0, out)
    nan = xp.isnan(x) | xp.isnan(y)
    return xp.where(nan, x + y, out)
