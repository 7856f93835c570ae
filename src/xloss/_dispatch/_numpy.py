"""NumPy native entries: row-blocked kernels that reuse one cache-sized buffer.

The composed array-API route makes several full N x C temporaries (x - max, exp, ...),
each a trip through main memory. These kernels walk the rows in blocks of about 1 MiB
with preallocated buffers (``out=``), so the N x C data is read once from memory and the
cost is one ``exp`` per element. They apply to C-contiguous arrays reduced over their last
axis; anything else returns ``NotImplemented`` and runs the generic definition, which
``tests/test_dispatch.py`` holds each entry against.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from xloss._backend import Backend, check_labels
from xloss._dispatch import register

_BLOCK_BYTES = 1 << 20


def _row_blocks(n_rows: int, n_cols: int, itemsize: int) -> Iterator[slice]:
    step = max(1, _BLOCK_BYTES // max(1, n_cols * itemsize))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _rows(x: Any) -> np.ndarray | None:
    """``x`` as a C-contiguous (rows, C) array view, or None when that would copy."""
    if type(x) is not np.ndarray or x.ndim == 0 or x.shape[-1] == 0 or x.size == 0:
        return None
    if not x.flags.c_contiguous:
        return None
    return x.reshape(-1, x.shape[-1])


def _blocked(
    rows: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    sum_shifted: bool = False,
    log_softmax_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One pass over ``rows``: shift ``m``, ``log s`` and optionally ``sum_c w_c (x - m)``.

    ``m`` is the row max replaced by 0 where it is not finite (rows of -inf stay -inf;
    +inf and NaN propagate), exactly as the generic definition shifts.
    """
    n, c = rows.shape
    shift = np.empty(n, dtype=rows.dtype)
    log_sum = np.empty(n, dtype=rows.dtype)
    shifted_sum = np.empty(n, dtype=rows.dtype) if sum_shifted else None
    buffer = np.empty((min(n, max(1, _BLOCK_BYTES // (c * rows.itemsize))), c), rows.dtype)
    for block in _row_blocks(n, c, rows.itemsize):
        k = block.stop - block.start
        buf = buffer[:k]
        # the max of each block while it is hot in cache: no separate pass over memory
        block_shift = shift[block]
        np.max(rows[block], axis=1, out=block_shift)
        np.copyto(block_shift, 0.0, where=~np.isfinite(block_shift))
        np.subtract(rows[block], block_shift[:, None], out=buf)
        if shifted_sum is not None:
            if weights is None:
                np.sum(buf, axis=1, out=shifted_sum[block])
            else:
                np.matmul(buf, weights, out=shifted_sum[block])
        if log_softmax_out is not None:
            log_softmax_out[block] = buf
        np.exp(buf, out=buf)
        np.log(np.sum(buf, axis=1), out=log_sum[block])
        if log_softmax_out is not None:
            np.subtract(log_softmax_out[block], log_sum[block, None], out=log_softmax_out[block])
    return shift, log_sum, shifted_sum


@register("logsumexp", "numpy")
def logsumexp(x: Any, *, axis: Any, keepdims: bool, backend: Backend) -> Any:
    if axis is None or (isinstance(axis, tuple) and len(axis) != 1):
        return NotImplemented
    axis = axis[0] if isinstance(axis, tuple) else axis
    rows = _rows(x)
    if rows is None or axis % x.ndim != x.ndim - 1:
        return NotImplemented
    shift, log_sum, _ = _blocked(rows)
    out = (log_sum + shift).reshape(x.shape[:-1])
    return out[..., None] if keepdims else out


@register("log_softmax", "numpy")
def log_softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    rows = _rows(x)
    if rows is None or axis % x.ndim != x.ndim - 1:
        return NotImplemented
    out = np.empty_like(rows)
    _blocked(rows, log_softmax_out=out)
    return out.reshape(x.shape)


@register("cross_entropy", "numpy")
def cross_entropy(
    input: Any,
    target: Any,
    weight: Any,
    *,
    axis: int,
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
    backend: Backend,
) -> Any:
    # Class-index targets with the class axis last (2-D (N, C) included).
    if axis != input.ndim - 1 or target.dtype.kind not in "iu":
        return NotImplemented
    rows = _rows(input)
    if rows is None:
        return NotImplemented
    labels = target.reshape(-1)
    n_classes = rows.shape[1]
    ignored = labels == ignore_index
    # min/max first: two reductions where the full mask would be three passes and a temporary
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        check_labels(target, n_classes, ignore_index, backend, "cross_entropy")
    safe = np.where(ignored, 0, labels)
    shift, log_sum, shifted_sum = _blocked(rows, weight, sum_shifted=label_smoothing > 0.0)
    picked = rows[np.arange(rows.shape[0]), safe]
    # -log p_y = log s - (x_y - m): exact for logits of any magnitude (no m + log s).
    nll = log_sum - (picked - shift)
    if weight is None:
        weight_of_target = (~ignored).astype(rows.dtype)
        # where, not a product with the mask: an ignored row may hold inf/NaN logits, whose
        # NaN loss must still become 0 (as the generic definition and F.cross_entropy do)
        nll = np.where(ignored, 0.0, nll)
    else:
        weight_of_target = np.where(ignored, 0.0, weight[safe]).astype(rows.dtype)
        nll = np.where(ignored, 0.0, nll * weight[safe])
    if label_smoothing > 0.0:
        # -sum_c w_c log p_c = log s * sum(w) - sum_c w_c (x_c - m)
        total_weight = n_classes if weight is None else np.sum(weight)
        smooth = np.where(ignored, 0.0, log_sum * total_weight - shifted_sum)
    if reduction == "none":
        out = (
            nll
            if label_smoothing == 0.0
            else ((1.0 - label_smoothing) * nll + (label_smoothing / n_classes) * smooth)
        )
        return out.astype(rows.dtype, copy=False).reshape(target.shape)
    total = np.sum(nll)
    if label_smoothing > 0.0:
        total = (1.0 - label_smoothing) * total + (label_smoothing / n_classes) * np.sum(smooth)
    scalar = rows.dtype.type  # the generic route returns a NumPy scalar too
    if reduction == "sum":
        return scalar(total)
    return scalar(total / np.sum(weight_of_target))  # 0/0 = NaN when every target is ignored
