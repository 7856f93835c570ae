"""PyTorch native entries for the information-theory functions on logits (custom backward).

``entropy_logits``, ``cross_entropy_logits`` and ``kl_divergence_logits`` (signatures in
``xloss/_agnostic/info.py``) as ``torch.autograd.Function``s:

* the forward runs without autograd and, on the CPU, in blocks of rows small enough to
  stay in cache, with preallocated buffers: per block one max, one subtraction, one
  ``exp``, one sum and one row-wise dot product (``bmm``), instead of the composition's
  full-size log-softmax, ``exp``, product and sum, each a fresh N x C tensor;
* it saves the inputs (alive anyway), the value and two numbers per row
  (:func:`xloss._agnostic.info.log_normaliser`'s shift and log-sum), not N x C
  intermediates;
* the backward is the VJP of ``xloss/_agnostic/info.py`` (the same formulas as
  :mod:`xloss.grad.info`): on the CPU as fused in-place block kernels (one ``exp`` per
  distribution), the rows where those are not finite (the ``0 * inf`` cases the
  definition guards) recomputed with the generic VJP; elsewhere the generic VJP itself.

The fast forward is ``log s - sum(e z) / s`` with ``z = x - shift`` and ``e = exp(z)``
(and the like for two arguments); it differs from the definition only on rows where it is
not finite (a zero probability meets ``log 0``: ``0 * -inf``; ``+inf``/NaN logits; a
``log q = -inf`` where a probability underflows), so exactly those rows (an N-vector
check, read on the host where that costs no sync) are recomputed with the generic
definition. Off the CPU the forward is the generic definition itself, under ``no_grad``.

Declined (``NotImplemented``, so the generic composition and torch's own autograd run):
a class axis that is not the last, ``p``/``q`` of different shapes (broadcasting), 0-d or
empty inputs, ``torch.compile`` tracing and functorch transforms (``torch.func.grad``,
``vmap``), whose tensors cannot be read.

Double backward: the fast backward treats the saved statistics as constants, so when the
backward runs with ``create_graph=True`` (grad mode is then on inside it: a Hessian, a
gradient penalty) it instead differentiates the generic definition, recomputed from the
saved inputs, with ``create_graph=True``: second derivatives are those of the composition,
at the composition's cost, and only then. (``once_differentiable`` is not enough: it only
notices a double backward when the incoming gradient requires grad, so
``torch.autograd.functional.hessian`` silently got zeros.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from xloss._agnostic import info as generic
from xloss._backend import Backend
from xloss._dispatch import generic as definition
from xloss._dispatch import register

# Elements per block on the CPU: two float32 buffers of 8 MiB, measured fastest at
# (1024, 32000) on 2 cores (smaller blocks lose to per-op overhead, larger ones to memory).
_BLOCK_ELEMENTS = 1 << 21

_functorch_active: Callable[[], bool] = getattr(
    torch._C, "_are_functorch_transforms_active", lambda: False
)


def _declined(*arrays: Any, axis: int) -> bool:
    first = arrays[0]
    if first.ndim == 0 or first.numel() == 0 or axis % first.ndim != first.ndim - 1:
        return True
    if any(a.shape != first.shape for a in arrays[1:]):
        return True
    return bool(torch.compiler.is_compiling() or _functorch_active())


def _block_rows(n_rows: int, n_classes: int, on_cpu: bool) -> int:
    return max(1, _BLOCK_ELEMENTS // n_classes) if on_cpu else n_rows


def _dot(a: Any, b: Any, out: Any) -> Any:
    """Row-wise dot products of two (rows, C) blocks, the products written into ``out``.

    A product and torch's cascade sum rather than ``bmm``: BLAS accumulates a float32 dot
    in a few float32 lanes, measured 1.7e-5 relative error at C = 32000 (4e-8 this way).
    """
    return torch.mul(a, b, out=out).sum(dim=-1)


def _shift(x: Any) -> Any:
    """The generic shift: the row max, 0 where it is not finite."""
    m = torch.amax(x, dim=-1, keepdim=True)
    return torch.where(torch.isfinite(m), m, 0.0)


def _exp_sum(z: Any, out: Any) -> Any:
    """``out = exp(z)`` and its row sums (kept as a column)."""
    torch.exp(z, out=out)
    return out.sum(dim=-1, keepdim=True)


# Each block kernel returns the (rows,) value and the per-row statistics, and may use the
# two (rows, C) buffers it is given as scratch.


def _entropy_block(x: Any, a: Any, b: Any) -> tuple[Any, list[Any]]:
    shift = _shift(x)
    z = torch.sub(x, shift, out=a)
    s = _exp_sum(z, b)
    log_sum = torch.log(s)
    value = log_sum.view(-1) - _dot(b, z, z) / s.view(-1)
    return value, [shift, log_sum]


def _cross_entropy_block(p: Any, q: Any, a: Any, b: Any) -> tuple[Any, list[Any]]:
    shift_q = _shift(q)
    z_q = torch.sub(q, shift_q, out=a)
    log_sum_q = torch.log(_exp_sum(z_q, b))
    shift_p = _shift(p)
    e_p = torch.sub(p, shift_p, out=b)
    s_p = _exp_sum(e_p, e_p)
    value = log_sum_q.view(-1) - _dot(e_p, z_q, z_q) / s_p.view(-1)
    return value, [shift_p, torch.log(s_p), shift_q, log_sum_q]


def _kl_block(p: Any, q: Any, a: Any, b: Any) -> tuple[Any, list[Any]]:
    shift_q = _shift(q)
    z_q = torch.sub(q, shift_q, out=a)
    log_sum_q = torch.log(_exp_sum(z_q, b))
    shift_p = _shift(p)
    z_p = torch.sub(p, shift_p, out=b)
    ratio = torch.sub(z_p, z_q, out=a)
    s_p = _exp_sum(z_p, z_p)
    log_sum_p = torch.log(s_p)
    value = _dot(z_p, ratio, ratio) / s_p.view(-1) - log_sum_p.view(-1) + log_sum_q.view(-1)
    return value, [shift_p, log_sum_p, shift_q, log_sum_q]


_BLOCKS: dict[str, Callable[..., tuple[Any, list[Any]]]] = {
    "entropy_logits": _entropy_block,
    "cross_entropy_logits": _cross_entropy_block,
    "kl_divergence_logits": _kl_block,
}


def _forward(name: str, rows: tuple[Any, ...], backend: Backend) -> tuple[Any, list[Any]]:
    """Value (N,) and per-row statistics ((N, 1) each) of ``name`` on (N, C) row blocks."""
    if not backend.inspectable:  # off the CPU: the definition itself, on the device
        value = definition(name)(*rows, axis=-1, backend=backend)
        stats: list[Any] = []
        for x in rows:
            stats += generic.log_normaliser(x, axis=-1, backend=backend)
        return value, stats
    n, c = rows[0].shape
    step = _block_rows(n, c, True)
    a = torch.empty((min(step, n), c), dtype=rows[0].dtype)
    b = torch.empty_like(a)
    values, stats_blocks = [], []
    for start in range(0, n, step):
        block = [x[start : start + step] for x in rows]
        k = block[0].shape[0]
        value, stats = _BLOCKS[name](*block, a[:k], b[:k])
        values.append(value)
        stats_blocks.append(stats)
    value = torch.cat(values) if len(values) > 1 else values[0]
    stats = [torch.cat(s) for s in zip(*stats_blocks, strict=True)]
    bad = ~torch.isfinite(value)
    if bool(bad.any()):  # the rows where the fast form is not the definition
        value[bad] = definition(name)(*(x[bad] for x in rows), axis=-1, backend=backend)
    return value, stats


# The backward block kernels: the gradients of the VJPs in ``xloss/_agnostic/info.py`` as
# in-place torch operations on preallocated (rows, C) buffers, one ``exp`` per
# distribution. They write into ``out`` (a list with ``None`` where no gradient is wanted)
# and leave the ``0 * inf`` guards to :func:`_backward`, which recomputes the rows whose
# gradient is not finite with the generic VJP. Arguments: the input blocks, the per-row
# log-normalisers ``shift + log_sum`` (rows, 1), the value and cotangent (rows, 1) and two
# scratch buffers.


def _entropy_grad(x: Any, norm: Any, value: Any, g: Any, a: Any, b: Any, out: list[Any]) -> None:
    log_p = torch.sub(x, norm[0], out=a)
    p = torch.exp(log_p, out=b)
    torch.mul(log_p.add_(value), p, out=out[0]).mul_(g.neg())  # -g p (log p + H)


def _cross_entropy_grad(
    p: Any, q: Any, norm: Any, value: Any, g: Any, a: Any, b: Any, out: list[Any]
) -> None:
    p_probs = torch.sub(p, norm[0], out=b).exp_()
    log_q = torch.sub(q, norm[1], out=a)
    if out[1] is not None:  # g (q_probs - p_probs)
        torch.exp(log_q, out=out[1]).sub_(p_probs).mul_(g)
    if out[0] is not None:  # -g p (log q + H)
        torch.mul(log_q.add_(value), p_probs, out=out[0]).mul_(g.neg())


def _kl_grad(p: Any, q: Any, norm: Any, value: Any, g: Any, a: Any, b: Any, out: list[Any]) -> None:
    log_q = torch.sub(q, norm[1], out=a)
    if out[1] is not None:  # g (q_probs - p_probs), p_probs written below
        torch.exp(log_q, out=out[1])
    log_p = torch.sub(p, norm[0], out=b)
    ratio = torch.sub(log_p, log_q, out=a)
    p_probs = log_p.exp_()
    if out[1] is not None:
        out[1].sub_(p_probs).mul_(g)
    if out[0] is not None:  # g p (log p - log q - D)
        torch.mul(ratio.sub_(value), p_probs, out=out[0]).mul_(g)


_GRAD_BLOCKS: dict[str, Callable[..., None]] = {
    "entropy_logits": _entropy_grad,
    "cross_entropy_logits": _cross_entropy_grad,
    "kl_divergence_logits": _kl_grad,
}


def _backward(
    name: str,
    rows: tuple[Any, ...],
    g: Any,
    value: Any,
    stats: tuple[Any, ...],
    backend: Backend,
    wanted: tuple[bool, ...],
) -> tuple[Any, ...]:
    """The gradients of ``name`` (``None`` where not ``wanted``).

    On the CPU: the fused block kernels, then the generic VJP on the rows where they gave a
    non-finite gradient (a ``0 * inf`` the guards of the definition turn into 0, or a row
    that is NaN anyway). Elsewhere: the generic VJP itself.
    """
    if not backend.inspectable:
        vjp = getattr(generic, name + "_vjp")
        every = _vjp_call(vjp, rows, g, value, stats, backend)
        return tuple(d if w else None for d, w in zip(every, wanted, strict=True))
    n, c = rows[0].shape
    step = _block_rows(n, c, True)
    norms = [stats[i] + stats[i + 1] for i in range(0, len(stats), 2)]
    g_col, value_col = g.reshape(n, 1), value.reshape(n, 1)
    grads: list[Any] = [
        torch.empty_like(x) if w else None for x, w in zip(rows, wanted, strict=True)
    ]
    a = torch.empty((min(step, n), c), dtype=rows[0].dtype)
    b = torch.empty_like(a)
    kernel = _GRAD_BLOCKS[name]
    row_sums = torch.empty(n, dtype=rows[0].dtype)  # NaN/inf where a gradient entry is
    for start in range(0, n, step):
        part = slice(start, start + step)
        k = min(step, n - start)
        blocks = [None if d is None else d[part] for d in grads]
        kernel(
            *(x[part] for x in rows),
            [s[part] for s in norms],
            value_col[part],
            g_col[part],
            a[:k],
            b[:k],
            blocks,
        )
        # summed while the block is in cache
        row_sums[part] = sum(d.sum(dim=-1) for d in blocks if d is not None)
    bad = ~torch.isfinite(row_sums)
    if bool(bad.any()):  # the guarded cases: recompute those rows with the definition
        vjp = getattr(generic, name + "_vjp")
        fixed = _vjp_call(
            vjp, [x[bad] for x in rows], g[bad], value[bad], [s[bad] for s in stats], backend
        )
        for d, piece in zip(grads, fixed, strict=True):
            if d is not None:
                d[bad] = piece
    return tuple(grads)


def _vjp_call(
    vjp: Callable[..., Any],
    rows: Any,
    g: Any,
    value: Any,
    stats: Any,
    backend: Backend,
) -> tuple[Any, ...]:
    if len(rows) == 1:
        return (vjp(rows[0], g, axis=-1, backend=backend, stats=tuple(stats), value=value),)
    out = vjp(
        *rows,
        g,
        axis=-1,
        backend=backend,
        stats_p=tuple(stats[:2]),
        stats_q=tuple(stats[2:]),
        value=value,
    )
    return tuple(out)


def _differentiable_backward(ctx: Any, rows: tuple[Any, ...], g: Any) -> tuple[Any, ...]:
    """The gradient as a differentiable function of the inputs and ``g`` (double backward).

    The generic definition is recomputed from the saved inputs under autograd and
    differentiated with ``create_graph=True``; inputs that need no gradient get ``None``.
    """
    wanted = [i for i, need in enumerate(ctx.needs_input_grad[2:]) if need]
    with torch.enable_grad():
        value = definition(ctx.name)(*rows, axis=-1, backend=ctx.backend)
        grads = torch.autograd.grad(value, [rows[i] for i in wanted], g, create_graph=True)
    out: list[Any] = [None] * len(rows)
    for i, grad in zip(wanted, grads, strict=True):
        out[i] = grad
    return tuple(out)


class _OneArgument(torch.autograd.Function):
    @staticmethod
    def forward(name: str, backend: Backend, x: Any) -> Any:
        value, stats = _forward(name, (x,), backend)
        return value, *stats

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        name, backend, x = inputs
        value, *stats = output
        ctx.mark_non_differentiable(*stats)
        ctx.save_for_backward(x, value, *stats)
        ctx.name, ctx.backend = name, backend

    @staticmethod
    def backward(ctx: Any, g: Any, *_: Any) -> Any:
        x, value, *stats = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True
            return None, None, *_differentiable_backward(ctx, (x,), g)
        (d_x,) = _backward(ctx.name, (x,), g, value, tuple(stats), ctx.backend, (True,))
        return None, None, d_x


class _TwoArguments(torch.autograd.Function):
    @staticmethod
    def forward(name: str, backend: Backend, p: Any, q: Any) -> Any:
        value, stats = _forward(name, (p, q), backend)
        return value, *stats

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        name, backend, p, q = inputs
        value, *stats = output
        ctx.mark_non_differentiable(*stats)
        ctx.save_for_backward(p, q, value, *stats)
        ctx.name, ctx.backend = name, backend

    @staticmethod
    def backward(ctx: Any, g: Any, *_: Any) -> Any:
        p, q, value, *stats = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True
            return None, None, *_differentiable_backward(ctx, (p, q), g)
        wanted = tuple(ctx.needs_input_grad[2:])
        d_p, d_q = _backward(ctx.name, (p, q), g, value, tuple(stats), ctx.backend, wanted)
        return None, None, d_p, d_q


def _run(name: str, arrays: tuple[Any, ...], backend: Backend) -> Any:
    first = arrays[0]
    batch = first.shape[:-1]
    rows = tuple(a.reshape(-1, a.shape[-1]) for a in arrays)
    if torch.is_grad_enabled() and any(a.requires_grad for a in arrays):
        function = _OneArgument if len(rows) == 1 else _TwoArguments
        value = function.apply(name, backend, *rows)[0]  # type: ignore[no-untyped-call]
    else:
        with torch.no_grad():
            value = _forward(name, rows, backend)[0]
    return value.reshape(batch)


@register("entropy_logits", "torch")
def entropy_logits(x: Any, *, axis: int, backend: Backend) -> Any:
    if _declined(x, axis=axis):
        return NotImplemented
    return _run("entropy_logits", (x,), backend)


@register("cross_entropy_logits", "torch")
def cross_entropy_logits(p: Any, q: Any, *, axis: int, backend: Backend) -> Any:
    if _declined(p, q, axis=axis):
        return NotImplemented
    return _run("cross_entropy_logits", (p, q), backend)


@register("kl_divergence_logits", "torch")
def kl_divergence_logits(p: Any, q: Any, *, axis: int, backend: Backend) -> Any:
    if _declined(p, q, axis=axis):
        return NotImplemented
    return _run("kl_divergence_logits", (p, q), backend)
