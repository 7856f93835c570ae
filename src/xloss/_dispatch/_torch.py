"""PyTorch native entries: ``torch`` / ``torch.special`` kernels where semantics match exactly.

Each entry keeps native autograd. Every one is held against its generic definition by
``tests/test_dispatch.py`` on random and adversarial inputs.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from xloss._backend import Backend, check_labels
from xloss._dispatch import _torch_ce, register

# xlogy/xlog1py are not delegated: torch.special.xlogy and jax.scipy.special.xlogy give a
# NaN gradient in y at x = y = 0, where the generic double-where form gives 0.


@register("logsumexp", "torch")
def logsumexp(x: Any, *, axis: Any, keepdims: bool, backend: Backend) -> Any:
    if axis is None:
        axis = tuple(range(x.ndim))
    if x.ndim == 0 or any(x.shape[a] == 0 for a in ((axis,) if isinstance(axis, int) else axis)):
        return NotImplemented  # torch rejects 0-d reductions over () and empty axes differ
    return torch.logsumexp(x, dim=axis, keepdim=keepdims)


# torch.log_softmax/softmax shift by the raw row max, so a slice holding +inf comes out all
# NaN, where the generic definition (SciPy's) gives NaN only at the +inf entries and -inf
# (log-probability) or 0 (probability) elsewhere, i.e. ``x - m`` with ``m = +inf``. Where
# values may be read, one max pass decides (no such slice: the fused kernel alone; else the
# generic definition); elsewhere those slices are patched with a select, on the device.


def _posinf_max(x: Any, axis: int) -> Any:
    return torch.amax(x.detach(), dim=axis, keepdim=True)


@register("log_softmax", "torch")
def log_softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    if x.ndim == 0 or x.numel() == 0:
        return NotImplemented
    m = _posinf_max(x, axis)
    if backend.inspectable:
        return NotImplemented if bool(torch.isposinf(m).any()) else torch.log_softmax(x, axis)
    return torch.where(torch.isposinf(m), x - m, torch.log_softmax(x, axis))


@register("softmax", "torch")
def softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    if x.ndim == 0 or x.numel() == 0:
        return NotImplemented
    m = _posinf_max(x, axis)
    if backend.inspectable:
        return NotImplemented if bool(torch.isposinf(m).any()) else torch.softmax(x, axis)
    return torch.where(torch.isposinf(m), torch.exp(x - m), torch.softmax(x, axis))


@register("sigmoid", "torch")
def sigmoid(x: Any, *, backend: Backend) -> Any:
    return torch.sigmoid(x)


@register("log_sigmoid", "torch")
def log_sigmoid(x: Any, *, backend: Backend) -> Any:
    return torch.nn.functional.logsigmoid(x)


@register("entr", "torch")
def entr(p: Any, *, backend: Backend) -> Any:
    return torch.special.entr(p)


# -- whole losses: torch.nn.functional kernels (fused forward, native backward) ------------
#
# The signatures are the generic ones documented at the top of xloss/_classification.py.
# Restrictions, each because the native kernel differs from the definition there:
# * class-index targets arrive unchecked. Where values may be read (eager CPU) the kernel's
#   own bounds check finds a bad label at no extra cost, and its IndexError becomes our
#   ValueError; elsewhere (CUDA, compiling) bad labels are routed to ``ignore_index`` for
#   the kernel (which would device-assert on them) and their losses set to NaN afterwards;
# * ``kl_div``'s ``"mean"`` is computed as a sum over the size, because torch warns on it;
# * ``binary_cross_entropy`` only where the probabilities were checked, and never with a
#   target that requires grad (torch has no derivative for it).

_F = torch.nn.functional


def _as_rows(input: Any, target: Any, axis: int) -> tuple[Any, Any, tuple[int, ...] | None]:
    """A (rows, C) view for a trailing class axis (the (batch, time, vocab) layout)."""
    if input.ndim >= 3 and axis == input.ndim - 1:
        shape = tuple(input.shape[:-1])
        rows = input.reshape(-1, input.shape[-1])
        if target.ndim == input.ndim:  # probabilities
            return rows, target.reshape(-1, target.shape[-1]), shape
        return rows, target.reshape(-1), shape
    if axis != (1 if input.ndim >= 2 else 0):
        return input, target, None  # another layout: caller gives up
    return input, target, ()


def _index_loss(
    kernel: Any,
    input: Any,
    target: Any,
    weight: Any,
    *,
    axis: int,
    ignore_index: int,
    reduction: str,
    backend: Backend,
    function: str,
    **options: Any,
) -> Any:
    rows, target, shape = _as_rows(input, target, axis)
    if shape is None:
        return NotImplemented
    dtype = target.dtype
    if dtype.is_floating_point:
        out = kernel(rows, target, weight, reduction=reduction, **options)
    else:
        if dtype != torch.int64:
            target = target.long()
        if backend.inspectable:
            try:
                out = kernel(
                    rows, target, weight, ignore_index=ignore_index, reduction=reduction, **options
                )
            except IndexError:  # the CPU kernel's bounds check: "Target 7 is out of bounds."
                n_classes = rows.shape[1 if rows.ndim >= 2 else 0]
                check_labels(target, n_classes, ignore_index, backend, function)
                raise
        else:  # values unreadable: keep the kernel in bounds, NaN at bad labels after it
            n_classes = rows.shape[1 if rows.ndim >= 2 else 0]
            bad = ((target < 0) | (target >= n_classes)) & (target != ignore_index)
            target = torch.where(bad, ignore_index, target)
            out = kernel(
                rows, target, weight, ignore_index=ignore_index, reduction=reduction, **options
            )
            out = torch.where(bad if reduction == "none" else bad.any(), math.nan, out)
    if reduction == "none" and shape:
        out = out.reshape(shape)
    return out


@register("cross_entropy", "torch")
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
    # Large inputs that require grad: the custom backward (no N x C log-probabilities kept
    # or written; see _torch_ce). Two attribute reads decide for the small, tuned calls.
    if input.requires_grad and input.numel() >= _torch_ce.MIN_ELEMENTS and not label_smoothing:
        rows, labels, shape = _as_rows(input, target, axis)
        if shape is not None and _torch_ce.accepts(rows, labels, weight, backend):
            out = _torch_ce.cross_entropy(
                rows,
                labels,
                weight,
                ignore_index=ignore_index,
                reduction=reduction,
                backend=backend,
            )
            return out.reshape(shape) if reduction == "none" and shape else out
    return _index_loss(
        _F.cross_entropy,
        input,
        target,
        weight,
        axis=axis,
        ignore_index=ignore_index,
        reduction=reduction,
        backend=backend,
        function="cross_entropy",
        label_smoothing=label_smoothing,
    )


@register("nll_loss", "torch")
def nll_loss(
    input: Any,
    target: Any,
    weight: Any,
    *,
    axis: int,
    ignore_index: int,
    reduction: str,
    backend: Backend,
) -> Any:
    return _index_loss(
        _F.nll_loss,
        input,
        target,
        weight,
        axis=axis,
        ignore_index=ignore_index,
        reduction=reduction,
        backend=backend,
        function="nll_loss",
    )


@register("binary_cross_entropy_with_logits", "torch")
def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any, pos_weight: Any, *, reduction: str, backend: Backend
) -> Any:
    return _F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=reduction, pos_weight=pos_weight
    )


@register("binary_cross_entropy", "torch")
def binary_cross_entropy(
    input: Any, target: Any, weight: Any, *, reduction: str, backend: Backend
) -> Any:
    if not backend.inspectable or target.requires_grad:
        return NotImplemented
    if weight is not None and weight.shape != input.shape:
        weight = weight.expand(input.shape)
    return _F.binary_cross_entropy(input, target, weight, reduction=reduction)


@register("kl_div", "torch")
def kl_div(input: Any, target: Any, *, reduction: str, log_target: bool, backend: Backend) -> Any:
    if input.shape != target.shape or input.ndim == 0:
        return NotImplemented
    if reduction == "mean":
        return _F.kl_div(input, target, reduction="sum", log_target=log_target) / input.numel()
    return _F.kl_div(input, target, reduction=reduction, log_target=log_target)
