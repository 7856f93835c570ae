"""Pieces every gradient shares: class-axis geometry, one-hot targets, broadcasting, output tuples."""

from __future__ import annotations

import math
from typing import Any

from xloss._backend import Backend
from xloss._typing import Array, DType


def positions(n: int, axis: int, ndim: int, dtype: DType, backend: Backend) -> Array:
    """``0 .. n-1`` shaped to broadcast along ``axis`` of an ``ndim``-dimensional array."""
    xp = backend.xp
    if backend.device is None or backend.kind == "dask":
        values = xp.arange(n, dtype=dtype)
    else:
        values = xp.arange(n, dtype=dtype, device=backend.device)
    shape = [1] * ndim
    shape[axis] = n
    return xp.reshape(values, tuple(shape))


def along(vector: Array, axis: int, ndim: int, backend: Backend) -> Array:
    """A length-``C`` vector shaped to broadcast along ``axis`` of an ``ndim``-dimensional array."""
    shape = [1] * ndim
    shape[axis] = vector.shape[0]
    return backend.xp.reshape(vector, tuple(shape))


def one_hot(labels: Array, n: int, axis: int, dtype: DType, backend: Backend) -> Array:
    """``labels`` (the input's shape without ``axis``) as a one-hot array along ``axis``.

    A comparison against the class positions: no gather, no data-dependent shape, so it
    stays lazy on Dask and traceable under ``jax.jit``; out-of-range labels give all zeros.
    """
    xp = backend.xp
    expanded = xp.expand_dims(labels, axis=axis)
    return xp.astype(expanded == positions(n, axis, labels.ndim + 1, labels.dtype, backend), dtype)


def unbroadcast(gradient: Array, shape: tuple[int, ...], backend: Backend) -> Array:
    """Sum a gradient taken in a broadcast shape back down to an argument's ``shape``."""
    xp = backend.xp
    if tuple(gradient.shape) == tuple(shape):
        return gradient
    extra = gradient.ndim - len(shape)
    if extra > 0:
        gradient = xp.sum(gradient, axis=tuple(range(extra)))
    axes = tuple(
        i for i, (g, s) in enumerate(zip(gradient.shape, shape, strict=True)) if s == 1 and g != 1
    )
    if axes:
        gradient = xp.sum(gradient, axis=axes, keepdims=True)
    return gradient


def scale_for(reduction: str, size: int | float) -> float:
    """The factor a mean over ``size`` elements puts on each element's derivative."""
    if reduction == "mean":
        return 1.0 / size if size else math.nan
    return 1.0


def size_of(shape: tuple[Any, ...]) -> int | float:
    """The number of elements of ``shape`` (NaN when a dimension is unknown)."""
    size = math.prod(shape)
    return size if isinstance(size, int) else math.nan


def results(*parts: Array | None) -> tuple[Array, ...]:
    """The returned tuple, without the parts that were not asked for (``None``)."""
    return tuple(p for p in parts if p is not None)
