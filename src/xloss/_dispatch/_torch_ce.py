"""Cross-entropy with class-index targets on torch CPU: a custom backward (issue #8).

``torch.nn.functional.cross_entropy`` is ``nll_loss(log_softmax(x))``: autograd keeps the
N x C log-probabilities alive until the backward, which then writes an N x C zero/scatter
tensor (``nll_loss_backward``) and reads it back with the log-probabilities
(``log_softmax_backward``). This ``torch.autograd.Function`` computes the same values and
gradients with

* a forward that writes the log-probabilities only into one cache-sized block buffer
  (rows in blocks: ``torch.log_softmax(..., out=)`` then F's own ``nll_loss`` kernel on
  the block), so no N x C tensor is allocated;
* saved tensors: the inputs (alive anyway) and the total weight, nothing N x C;
* a backward that writes the gradient once, block by block: ``softmax(x) * c`` then
  ``-c`` added at the label, with ``c = weight[y] * g`` (``/ total weight`` for the mean,
  0 at ``ignore_index``), the expression ``log_softmax_backward`` evaluates on the scatter.

Non-finite logits need no special case: the softmax of a row holding ``+inf`` or NaN is
NaN like its log-softmax, and a ``-inf`` logit has probability 0, so values and gradients
are those of ``F.cross_entropy`` (held against it by ``tests/test_torch_ce_backward.py``).

Double backward: when the backward runs with ``create_graph=True`` (grad mode is then on
inside it), the gradient is built from differentiable torch operations on the saved
input, so a second derivative is as correct as through ``F.cross_entropy``.

The caller (``cross_entropy`` in :mod:`xloss._dispatch._torch`) only comes here for an
input that requires grad and is at least :data:`MIN_ELEMENTS` large, so small calls keep
their tuned path; :func:`accepts` declines the rest (other dtypes, devices, layouts,
weights, ``torch.compile`` and functorch), which then run ``F.cross_entropy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from xloss._backend import Backend, check_labels

# From this many logits on (32 MiB of float32) the custom backward is used. Measured on
# 2 cores as interleaved fwd+bwd medians against F, in two allocator regimes: glibc's
# default, which serves N x C tensors above its 32 MiB mmap ceiling (and, depending on the
# process's history, smaller ones too) with fresh pages, so F pays page faults for its
# saved log-probabilities and their gradient: (4096, 1000) 0.35-0.69x, (2048, 32000)
# 0.57x; and a memory-retaining allocator (MALLOC_MMAP_THRESHOLD_ raised, as jemalloc or
# tcmalloc behave), where F's fused full-size kernels win: (4096, 1000) 1.3x,
# (2048, 32000) 1.05x. The gate sits where the second regime costs little and the first is
# glibc's rule: a saved N x C float32 tensor larger than 32 MiB.
MIN_ELEMENTS = 1 << 23

# Elements per block on the CPU: one float32 buffer of 4 MiB (interleaved fwd+bwd at
# (4096, 1000) and (2048, 32000), both allocator regimes: 2^20 beat 2^18 by 4-25%).
_BLOCK_ELEMENTS = 1 << 20

_FLOATS = (torch.float32, torch.float64)

_functorch_active: Callable[[], bool] = getattr(
    torch._C, "_are_functorch_transforms_active", lambda: False
)


def accepts(rows: Any, target: Any, weight: Any, backend: Backend) -> bool:
    """Whether the custom backward computes exactly ``F.cross_entropy`` here."""
    if rows.ndim != 2 or rows.dtype not in _FLOATS or target.dtype.is_floating_point:
        return False
    if not backend.inspectable or not torch.is_grad_enabled() or rows.shape[0] == 0:
        return False
    if weight is not None and (
        weight.requires_grad or weight.dtype != rows.dtype or weight.shape != rows.shape[1:]
    ):
        return False
    return not (torch.compiler.is_compiling() or _functorch_active())


_REDUCTION_ENUM = {"none": 0, "mean": 1, "sum": 2}  # ATen's at::Reduction
_nll_loss_forward = torch.ops.aten.nll_loss_forward.default


def _forward(x: Any, target: Any, weight: Any, ignore_index: int, reduction: str) -> Any:
    """The loss and (for ``"mean"``) the total weight, one block of log-probabilities at a time.

    Each block is ``nll_loss_forward(log_softmax(block))``, F's own two kernels (its label
    bounds check, weights and ``ignore_index`` included); a single block is exactly F's
    computation, several are summed (``"sum"``, ``"mean"``) or concatenated (``"none"``).
    """
    n, c = x.shape
    step = max(1, _BLOCK_ELEMENTS // c)
    buffer = torch.empty((min(step, n), c), dtype=x.dtype)
    if step >= n:
        log_p = torch.log_softmax(x, 1, out=buffer)
        return _nll_loss_forward(log_p, target, weight, _REDUCTION_ENUM[reduction], ignore_index)
    code = _REDUCTION_ENUM["none" if reduction == "none" else "sum"]
    losses, weights = [], []
    for start in range(0, n, step):
        block = x[start : start + step]
        log_p = torch.log_softmax(block, 1, out=buffer[: block.shape[0]])
        loss, total = _nll_loss_forward(
            log_p, target[start : start + step], weight, code, ignore_index
        )
        losses.append(loss)
        weights.append(total)
    if reduction == "none":
        return torch.cat(losses), None
    loss = torch.stack(losses).sum()
    if reduction == "sum":
        return loss, None
    total = torch.stack(weights).sum()
    return loss / total, total


class _CrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: Any, target: Any, weight: Any, ignore_index: int, reduction: str
    ) -> Any:
        loss, total = _forward(x, target, weight, ignore_index, reduction)
        ctx.save_for_backward(x, target, weight, total if reduction == "mean" else None)
        ctx.ignore_index, ctx.reduction = ignore_index, reduction
        return loss

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x, target, weight, total = ctx.saved_tensors
        keep = target != ctx.ignore_index
        labels = torch.where(keep, target, 0)
        if ctx.reduction == "mean":
            g = g / total
        if weight is not None:
            g = weight[labels] * g
        # F's nll_loss_backward writes -w[y] * g at each kept label and nothing elsewhere.
        coefficient = torch.where(keep, g, 0.0)[:, None]
        if torch.is_grad_enabled():  # create_graph=True: a differentiable gradient
            one_hot = torch.zeros_like(x).scatter(1, labels[:, None], coefficient)
            return torch.softmax(x, 1) * coefficient - one_hot, None, None, None, None
        grad = torch.empty_like(x)
        n, c = x.shape
        step = max(1, _BLOCK_ELEMENTS // c)
        for start in range(0, n, step):
            part = slice(start, start + step)
            block = torch.softmax(x[part], 1, out=grad[part])
            block.mul_(coefficient[part])
            block.scatter_add_(1, labels[part, None], -coefficient[part])
        return grad, None, None, None, None


def cross_entropy(
    rows: Any, target: Any, weight: Any, *, ignore_index: int, reduction: str, backend: Backend
) -> Any:
    """``F.cross_entropy(rows, target, weight, ...)`` for (N, C) rows and (N,) labels."""
    if target.dtype != torch.int64:
        target = target.long()
    try:
        return _CrossEntropy.apply(rows, target, weight, ignore_index, reduction)  # type: ignore[no-untyped-call]
    except IndexError:  # nll_loss's bounds check: "Target 7 is out of bounds."
        check_labels(target, rows.shape[1], ignore_index, backend, "cross_entropy")
        raise
