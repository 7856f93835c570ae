r"""Classification and divergence losses with ``torch.nn.functional``'s semantics.

Cross-entropy, negative log-likelihood, the binary cross-entropy family, KL divergence,
the soft-margin losses and torchvision's sigmoid focal loss: PyTorch's names, argument
order, defaults, denominators and edge cases (NaN when every target is ignored, BCE's log
clamp at -100, ``pos_weight`` broadcasting, ``kl_div``'s ``log_target`` and
``"batchmean"``), on every array library.

The public functions resolve the backend once, validate every option, shape and dtype
without touching data, run the value checks where values may be read
(``backend.inspectable``), promote and cast the floating inputs, and hand the math to
:mod:`xloss._dispatch`. The generic definitions registered here are the reference that a
native entry (``register(name, kind)``, e.g. in ``xloss/_dispatch/_torch.py``) must equal.
A native entry returns ``NotImplemented`` for any argument combination it does not match
exactly. Every array argument arrives in the compute dtype (float32 for float16/bfloat16
inputs); each entry returns the reduced loss in that dtype (the caller casts back and
converts to ``base`` units, so no entry sees ``base``).

Registered names and the exact signatures a native entry must accept:

``cross_entropy(input, target, weight, *, axis, ignore_index, label_smoothing, reduction, backend)``
    ``input``: logits, ``ndim >= 1``. ``axis``: the class axis as a non-negative int
    (PyTorch's rule already applied: 1 for ``ndim >= 2``, else 0; any axis when the caller
    passed one, e.g. ``ndim - 1`` for a (batch, time, vocab) layout). ``target``: either
    class indices (an integer array of ``input``'s shape without ``axis``) or class
    probabilities (a floating array of ``input``'s exact shape, in the compute dtype); the
    dtype tells which. ``weight``: ``None`` or a 1-D array of length ``C``.
    ``ignore_index``: a Python int (``< 0`` for probability targets).
    ``label_smoothing``: a Python float in ``[0, 1]``. ``reduction``: ``"mean"``, ``"sum"``
    or ``"none"`` (``"none"`` gives the target's shape for index targets, ``input``'s
    shape without ``axis`` for probabilities).
    Index targets arrive unchecked: a label outside ``[0, C)`` other than ``ignore_index``
    must raise :func:`xloss._backend.check_labels`'s ``ValueError`` where
    ``backend.inspectable`` (an entry may find it as a by-product, e.g. a kernel's own
    bounds error) and give NaN at its position elsewhere, never a device assert or a
    wrapped index.
``nll_loss(input, target, weight, *, axis, ignore_index, reduction, backend)``
    As ``cross_entropy`` with index targets, ``input`` holding log-probabilities.
``binary_cross_entropy(input, target, weight, *, reduction, backend)``
    ``input`` and ``target`` have one shape; ``weight`` is ``None`` or broadcasts to it.
    Inputs outside ``[0, 1]`` (or NaN) reach the entry only where ``backend.inspectable``
    is false and must give NaN there (PyTorch's CUDA kernel would assert).
``binary_cross_entropy_with_logits(input, target, weight, pos_weight, *, reduction, backend)``
    ``input`` and ``target`` have one shape; ``weight`` and ``pos_weight`` are ``None`` or
    broadcast to it.
``kl_div(input, target, *, reduction, log_target, backend)``
    ``input`` (log-probabilities) and ``target`` broadcast together; ``reduction`` is
    ``"mean"``, ``"sum"``, ``"none"`` or ``"batchmean"`` (sum divided by
    ``input.shape[0]``, by nothing for a 0-d input).
``soft_margin_loss(input, target, *, reduction, backend)``
    ``input`` and ``target`` have one shape.
``multilabel_soft_margin_loss(input, target, weight, *, reduction, backend)``
    ``input`` is ``(C,)`` or ``(N, C)``; ``target`` has its shape (floating);
    ``weight`` is ``None`` or broadcasts to it.
``sigmoid_focal_loss(input, target, *, alpha, gamma, reduction, backend)``
    ``input`` and ``target`` have one shape; ``alpha`` a Python float (``< 0`` disables the
    class balance, as torchvision), ``gamma`` a non-negative Python float.
"""

from __future__ import annotations

import math
from typing import Literal

from . import _agnostic  # noqa: F401  (registers the generic primitives)
from ._backend import (
    Backend,
    check_base,
    check_labels,
    check_reduction,
    floating_inputs,
    label_masks,
    quiet,
    resolve,
    stop_gradient,
    take_along_axis,
    to_dtype,
)
from ._backend import (
    reduce as _reduce,
)
from ._dispatch import call, register_generic
from ._typing import Array, Reduction

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "kl_div",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "sigmoid_focal_loss",
    "soft_margin_loss",
]

_KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")
# PyTorch's BCE backward divides by max(p (1 - p), EPSILON), EPSILON a C++ ``float`` 1e-12
# (aten/src/ATen/native/Loss.cpp): 1e-12 rounded to float32.
_BCE_GRAD_EPS = 9.999999960041972e-13


# -- shared pieces ------------------------------------------------------------------------


def _gather_class(x: Array, index: Array, axis: int, backend: Backend) -> Array:
    """``x`` at class ``index`` along ``axis`` (``index`` has ``x``'s shape without ``axis``)."""
    xp = backend.xp
    picked = take_along_axis(x, xp.expand_dims(index, axis=axis), axis, backend)
    return xp.squeeze(picked, axis=axis)


def _class_shape(ndim: int, axis: int, n_classes: int) -> tuple[int, ...]:
    shape = [1] * ndim
    shape[axis] = n_classes
    return tuple(shape)


def _indexed_nll(
    log_prob: Array,
    target: Array,
    weight: Array | None,
    *,
    axis: int,
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
    backend: Backend,
    function: str,
) -> Array:
    """PyTorch's ``nll_loss`` (and label-smoothed cross-entropy) on log-probabilities.

    Raises for a bad label where values may be read (``function`` names the caller).
    """
    xp = backend.xp
    n_classes = log_prob.shape[axis]
    in_range, ignored = label_masks(target, n_classes, ignore_index, backend)
    # Bad labels are clamped to class 0 for the gather (never wrapped or out of bounds) and
    # their losses replaced by NaN below; ignored positions become exact zeros.
    safe = xp.where(in_range, target, 0)
    picked = _gather_class(log_prob, safe, axis, backend)
    if weight is None:
        nll = -picked
        kept = in_range if ignored is None else ~ignored
        denominator_terms = xp.astype(kept, log_prob.dtype)
    else:
        flat = xp.reshape(safe, (-1,))
        weight_of_target = xp.reshape(xp.take(weight, flat, axis=0), tuple(safe.shape))
        nll = -picked * weight_of_target
        denominator_terms = (
            weight_of_target if ignored is None else xp.where(ignored, 0.0, weight_of_target)
        )
    bad = ~in_range if ignored is None else ~in_range & ~ignored
    if backend.inspectable and bool(xp.any(bad)):
        check_labels(target, n_classes, ignore_index, backend, function)

    def finish(loss: Array) -> Array:
        loss = xp.where(bad, math.nan, loss)
        return loss if ignored is None else xp.where(ignored, 0.0, loss)

    nll = finish(nll)
    if label_smoothing > 0.0:
        if weight is None:
            smooth = -xp.sum(log_prob, axis=axis)
        else:
            class_weight = xp.reshape(weight, _class_shape(log_prob.ndim, axis, n_classes))
            smooth = -xp.sum(log_prob * class_weight, axis=axis)
        smooth = finish(smooth)
    if reduction == "none":
        if label_smoothing > 0.0:
            return (1.0 - label_smoothing) * nll + (label_smoothing / n_classes) * smooth
        return nll
    if reduction == "sum":
        out = xp.sum(nll)
        if label_smoothing > 0.0:
            out = (1.0 - label_smoothing) * out + (label_smoothing / n_classes) * xp.sum(smooth)
        return out
    # mean: divide by the summed weight of the non-ignored targets (NaN when all ignored)
    denominator = xp.sum(denominator_terms)
    out = xp.sum(nll) / denominator
    if label_smoothing > 0.0:
        out = (1.0 - label_smoothing) * out + (label_smoothing / n_classes) * (
            xp.sum(smooth) / denominator
        )
    return out


# -- generic definitions ------------------------------------------------------------------


@register_generic("cross_entropy")
def _cross_entropy_generic(
    input: Array,
    target: Array,
    weight: Array | None,
    *,
    axis: int,
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
    backend: Backend,
) -> Array:
    xp = backend.xp
    log_prob = call("log_softmax", input, axis=axis, backend=backend)
    if xp.isdtype(target.dtype, "integral"):
        return _indexed_nll(
            log_prob,
            target,
            weight,
            axis=axis,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            reduction=reduction,
            backend=backend,
            function="cross_entropy",
        )
    n_classes = input.shape[axis]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
    terms = log_prob * target
    if weight is not None:
        terms = terms * xp.reshape(weight, _class_shape(input.ndim, axis, n_classes))
    loss = -xp.sum(terms, axis=axis)
    # PyTorch divides by the number of positions (numel / C), not by a weight sum.
    return _reduce(loss, reduction, backend)


@register_generic("nll_loss")
def _nll_loss_generic(
    input: Array,
    target: Array,
    weight: Array | None,
    *,
    axis: int,
    ignore_index: int,
    reduction: str,
    backend: Backend,
) -> Array:
    return _indexed_nll(
        input,
        target,
        weight,
        axis=axis,
        ignore_index=ignore_index,
        label_smoothing=0.0,
        reduction=reduction,
        backend=backend,
        function="nll_loss",
    )


@register_generic("binary_cross_entropy")
def _binary_cross_entropy_generic(
    input: Array, target: Array, weight: Array | None, *, reduction: str, backend: Backend
) -> Array:
    xp = backend.xp
    # The value is PyTorch's, logs clamped at -100. The derivative in ``input`` is
    # PyTorch's backward formula, (p - t) / max(p (1 - p), 1e-12), attached straight
    # through: ``g * (p - stop(p))`` is an exact 0 in value whose derivative is ``g``. So
    # p = 0 or 1 gives PyTorch's large finite gradient instead of 0 or NaN.
    # The derivative in ``target`` is PyTorch's unclamped log(1 - p) - log(p) wherever that
    # is finite (the clamped difference at p = 0 or 1, where PyTorch's is infinite).
    p = stop_gradient(input, backend)
    t = stop_gradient(target, backend)
    raw_log_p = xp.log(p)
    raw_log_1mp = xp.log1p(-p)
    log_p = xp.maximum(raw_log_p, -100.0)
    log_1mp = xp.maximum(raw_log_1mp, -100.0)
    loss = (target - 1.0) * log_1mp - target * log_p
    slope = (p - t) / xp.maximum(p * (1.0 - p), _BCE_GRAD_EPS)
    slope = xp.where((p >= 0.0) & (p <= 1.0), slope, 0.0)
    target_fix = (raw_log_1mp - raw_log_p) - (log_1mp - log_p)
    target_fix = xp.where(xp.isfinite(target_fix), target_fix, 0.0)
    loss = loss + slope * (input - p) + target_fix * (target - t)
    # Probabilities outside [0, 1] (only where values could not be checked): NaN.
    loss = xp.where((input >= 0.0) & (input <= 1.0), loss, math.nan)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, backend)


@register_generic("binary_cross_entropy_with_logits")
def _bce_with_logits_generic(
    input: Array,
    target: Array,
    weight: Array | None,
    pos_weight: Array | None,
    *,
    reduction: str,
    backend: Backend,
) -> Array:
    # PyTorch's form: (1 - t) x - (1 + (pw - 1) t) log sigmoid(x), stable for any x.
    log_sig = call("log_sigmoid", input, backend=backend)
    if pos_weight is None:
        loss = (1.0 - target) * input - log_sig
    else:
        loss = (1.0 - target) * input - ((pos_weight - 1.0) * target + 1.0) * log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, backend)


@register_generic("kl_div")
def _kl_div_generic(
    input: Array, target: Array, *, reduction: str, log_target: bool, backend: Backend
) -> Array:
    xp = backend.xp
    if log_target:
        loss = xp.exp(target) * (target - input)
    else:
        loss = call("xlogy", target, target, backend=backend) - target * input
    if reduction == "batchmean":
        total = xp.sum(loss)
        return total / input.shape[0] if input.ndim > 0 else total
    return _reduce(loss, reduction, backend)


@register_generic("soft_margin_loss")
def _soft_margin_generic(input: Array, target: Array, *, reduction: str, backend: Backend) -> Array:
    # log(1 + e^{-y x}) = -log sigmoid(y x): no overflow where log1p(exp(-y x)) has one.
    loss = -call("log_sigmoid", target * input, backend=backend)
    return _reduce(loss, reduction, backend)


@register_generic("multilabel_soft_margin_loss")
def _multilabel_soft_margin_generic(
    input: Array, target: Array, weight: Array | None, *, reduction: str, backend: Backend
) -> Array:
    xp = backend.xp
    loss = -(
        target * call("log_sigmoid", input, backend=backend)
        + (1.0 - target) * call("log_sigmoid", -input, backend=backend)
    )
    if weight is not None:
        loss = loss * weight
    n_classes = input.shape[-1]
    return _reduce(xp.sum(loss, axis=-1) / n_classes, reduction, backend)


@register_generic("sigmoid_focal_loss")
def _sigmoid_focal_generic(
    input: Array,
    target: Array,
    *,
    alpha: float,
    gamma: float,
    reduction: str,
    backend: Backend,
) -> Array:
    xp = backend.xp
    log_p = call("log_sigmoid", input, backend=backend)  # log sigma(x)
    log_q = call("log_sigmoid", -input, backend=backend)  # log (1 - sigma(x))
    ce = -(target * log_p + (1.0 - target) * log_q)
    if gamma != 0.0:
        # 1 - p_t = sigma(x) (1 - t) + sigma(-x) t, in log space: exact where torchvision's
        # 1 - p_t cancels to 0 (confident predictions). The weights' logs see the target
        # held constant (log 0 = -inf at hard labels would make 0 * inf = NaN in autograd);
        # the derivative in t, (sigma(-x) - sigma(x)) / (1 - p_t), is attached straight
        # through instead (an exact 0 in value).
        t = stop_gradient(target, backend)
        positive_t = t > 0.0
        positive_1mt = t < 1.0
        log_t = xp.log(xp.where(positive_t, t, 1.0))
        log_1mt = xp.log1p(-xp.where(positive_1mt, t, 0.0))
        a = xp.where(positive_1mt, log_p + log_1mt, -math.inf)
        b = xp.where(positive_t, log_q + log_t, -math.inf)
        high = stop_gradient(xp.maximum(a, b), backend)
        high = xp.where(xp.isfinite(high), high, 0.0)
        log_one_minus_pt = high + xp.log(xp.exp(a - high) + xp.exp(b - high))
        held = stop_gradient(log_one_minus_pt, backend)
        slope = stop_gradient(xp.exp(log_q - held) - xp.exp(log_p - held), backend)
        slope = xp.where(xp.isfinite(slope), slope, 0.0)
        log_one_minus_pt = log_one_minus_pt + slope * (target - t)
        ce = ce * xp.exp(gamma * log_one_minus_pt)
    if alpha >= 0.0:
        ce = (alpha * target + (1.0 - alpha) * (1.0 - target)) * ce
    return _reduce(ce, reduction, backend)


# -- validation -------------------------------------------------------------------------


def _class_axis(axis: int | None, ndim: int, function: str) -> int:
    if ndim == 0:
        raise ValueError(f"xloss: {function} needs an input with a class axis, got a 0-d input")
    if axis is None:
        return 1 if ndim >= 2 else 0
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"xloss: {function}: axis must be an int or None, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"xloss: {function}: axis {axis} is out of range for an input of {ndim} dimensions"
        )
    return axis % ndim


def _check_ignore_index(ignore_index: int, function: str) -> None:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"xloss: {function}: ignore_index must be an int, got {ignore_index!r}")


def _check_class_weight(weight: Array | None, n_classes: int, function: str) -> None:
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise ValueError(
            f"xloss: {function}: weight must be a 1-D array of length C = {n_classes} "
            f"(one weight per class), got shape {tuple(weight.shape)}"
        )


def _check_index_target(
    target: Array, input: Array, axis: int, backend: Backend, function: str
) -> None:
    shape = tuple(input.shape)
    expected = shape[:axis] + shape[axis + 1 :]
    if tuple(target.shape) != expected:
        raise ValueError(
            f"xloss: {function}: target shape {tuple(target.shape)} matches neither class-index "
            f"targets {expected} nor class-probability targets {tuple(input.shape)} for input "
            f"shape {tuple(input.shape)} with class axis {axis}"
        )
    if not backend.isdtype(target.dtype, "integral"):
        raise TypeError(
            f"xloss: {function}: class-index targets must have an integer dtype, got {target.dtype}"
        )


def _check_same_shape(target: Array, input: Array, function: str) -> None:
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"xloss: {function}: target shape {tuple(target.shape)} must equal the input "
            f"shape {tuple(input.shape)}"
        )


def _check_broadcasts(value: Array | None, shape: tuple[int, ...], name: str, fn: str) -> None:
    """``value`` must broadcast to ``shape`` without changing it."""
    if value is None:
        return
    vshape = tuple(value.shape)
    ok = len(vshape) <= len(shape) and all(
        v in (1, s) for v, s in zip(vshape[::-1], shape[::-1], strict=False)
    )
    if not ok:
        raise ValueError(
            f"xloss: {fn}: {name} of shape {vshape} does not broadcast to the input shape {shape}"
        )


def _as_floating_target(target: Array, input: Array, backend: Backend) -> Array:
    """Integer or boolean 0/1 targets as floating, in the input's dtype."""
    xp = backend.xp
    if xp.isdtype(target.dtype, ("integral", "bool")) and xp.isdtype(input.dtype, "real floating"):
        return xp.astype(target, input.dtype)
    return target


def _in_units(loss: Array, log_base: float | None) -> Array:
    return loss if log_base is None else loss / log_base


# -- public functions -------------------------------------------------------------------


@quiet
def cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    axis: int | None = None,
    base: float | None = None,
) -> Array:
    r"""Cross-entropy between the softmax of ``input`` logits and ``target``.

    For class-index targets :math:`y_n` and class weights :math:`w` (all ones by default),
    with label smoothing :math:`\varepsilon` over :math:`C` classes,

    .. math:: \ell_n = -(1 - \varepsilon)\, w_{y_n} \log \sigma(x_n)_{y_n}
              - \frac{\varepsilon}{C} \sum_c w_c \log \sigma(x_n)_c,
              \qquad \text{mean} = \frac{\sum_n \ell_n}{\sum_{n:\,y_n \ne
              \text{ignore}} w_{y_n}}

    where :math:`\sigma` is the softmax over the class axis and positions whose target is
    ``ignore_index`` give 0 (and leave the mean's denominator). For class-probability
    targets :math:`t` (``target`` of ``input``'s shape),

    .. math:: \ell_n = -\sum_c w_c\, t'_{nc} \log \sigma(x_n)_c, \qquad
              t' = (1 - \varepsilon)\, t + \varepsilon / C,

    and the mean divides by the number of positions. These are PyTorch's denominators:
    an all-ignored batch gives NaN, as in PyTorch.

    Parameters
    ----------
    input : array
        Real floating logits of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``
        (the class axis can be moved with ``axis``).
    target : array
        Class indices (integer; ``input``'s shape without the class axis) or class
        probabilities (floating; ``input``'s shape).
    weight : array, optional
        Per-class weights of shape ``(C,)``; any real values.
    ignore_index : int, optional
        A class-index target value that contributes nothing (default ``-100``); must be
        negative for probability targets.
    reduction : {"mean", "sum", "none"}, optional
        The weighted mean, the sum, or the per-position losses.
    label_smoothing : float, optional
        :math:`\varepsilon \in [0, 1]`, mixing the target with the uniform distribution.
    axis : int, optional
        The class axis. ``None`` is PyTorch's rule: 1 for inputs of two or more
        dimensions, else 0. ``axis=-1`` takes a (batch, time, vocab) layout directly.
    base : float, optional
        Logarithm base of the result's unit (``2`` for bits); the default is nats.

    Returns
    -------
    array
        A scalar, or the per-position losses for ``reduction="none"``; in ``input``'s
        library, device and dtype.

    Raises
    ------
    ValueError
        For an unknown ``reduction``, ``label_smoothing`` outside ``[0, 1]``, a target or
        weight of the wrong shape, and, where values can be read (NumPy, array-api-strict,
        torch on the CPU), a class label outside ``[0, C)`` other than ``ignore_index``.
        Elsewhere (GPU, JAX, Dask, compiled code) such a label gives NaN at its position.
    TypeError
        For non-floating logits, or targets of the wrong dtype.

    See Also
    --------
    torch.nn.functional.cross_entropy : the same function (fixed class axis, nats).
    optax.softmax_cross_entropy_with_integer_labels : per-example values, last axis.
    nll_loss : the same on log-probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> xloss.cross_entropy(logits, np.array([0, 2]), reduction="none")
    array([0.23954477, 1.09861229])
    >>> float(xloss.cross_entropy(np.zeros(4), np.array(1), base=2))
    2.0
    """
    check_reduction(reduction)
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)):
        raise TypeError(f"xloss: label_smoothing must be a float, got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"xloss: label_smoothing must be between 0.0 and 1.0, got {label_smoothing!r}"
        )
    _check_ignore_index(ignore_index, "cross_entropy")
    log_base = check_base(base)
    backend = resolve(input, target, weight)
    class_axis = _class_axis(axis, input.ndim, "cross_entropy")
    n_classes = input.shape[class_axis]
    probabilities = tuple(target.shape) == tuple(input.shape)
    if probabilities:
        if not backend.isdtype(target.dtype, "real floating"):
            raise TypeError(
                "xloss: cross_entropy: class-probability targets (the input's shape) must be "
                f"real floating, got dtype {target.dtype}"
            )
        if ignore_index >= 0:
            raise ValueError(
                "xloss: cross_entropy: ignore_index is not supported for class-probability "
                f"targets, got ignore_index={ignore_index}"
            )
        (input, target, weight), out_dtype = floating_inputs(
            backend, input=input, target=target, weight=weight
        )
    else:
        _check_index_target(target, input, class_axis, backend, "cross_entropy")
        (input, weight), out_dtype = floating_inputs(backend, input=input, weight=weight)
    _check_class_weight(weight, n_classes, "cross_entropy")
    loss = call(
        "cross_entropy",
        input,
        target,
        weight,
        axis=class_axis,
        ignore_index=ignore_index,
        label_smoothing=float(label_smoothing),
        reduction=reduction,
        backend=backend,
    )
    return to_dtype(_in_units(loss, log_base), out_dtype, backend)


@quiet
def nll_loss(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    axis: int | None = None,
    base: float | None = None,
) -> Array:
    r"""Negative log-likelihood of class-index targets under log-probabilities ``input``.

    .. math:: \ell_n = -w_{y_n}\, x_{n, y_n}, \qquad
              \text{mean} = \frac{\sum_n \ell_n}{\sum_{n:\,y_n \ne \text{ignore}} w_{y_n}}

    Positions whose target is ``ignore_index`` give 0 and leave the mean's denominator, so
    an all-ignored batch gives NaN (PyTorch's rule).

    Parameters
    ----------
    input : array
        Log-probabilities of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
    target : array
        Integer class indices: ``input``'s shape without the class axis.
    weight : array, optional
        Per-class weights of shape ``(C,)``; any real values.
    ignore_index : int, optional
        A target value that contributes nothing (default ``-100``).
    reduction : {"mean", "sum", "none"}, optional
        The weighted mean, the sum, or the per-position losses.
    axis : int, optional
        The class axis; ``None`` is PyTorch's rule (1 for two or more dimensions, else 0).
    base : float, optional
        Logarithm base of the result's unit (``2`` for bits); the default is nats.

    Returns
    -------
    array
        A scalar, or the target's shape for ``reduction="none"``.

    Raises
    ------
    ValueError
        As :func:`cross_entropy` for index targets.
    TypeError
        For non-floating ``input`` or a non-integer ``target``.

    See Also
    --------
    torch.nn.functional.nll_loss : the same function.
    cross_entropy : the same on logits.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> log_p = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    >>> float(xloss.nll_loss(log_p, np.array([0, -100])))
    0.6931471805599453
    """
    check_reduction(reduction)
    _check_ignore_index(ignore_index, "nll_loss")
    log_base = check_base(base)
    backend = resolve(input, target, weight)
    class_axis = _class_axis(axis, input.ndim, "nll_loss")
    n_classes = input.shape[class_axis]
    _check_index_target(target, input, class_axis, backend, "nll_loss")
    (input, weight), out_dtype = floating_inputs(backend, input=input, weight=weight)
    _check_class_weight(weight, n_classes, "nll_loss")
    loss = call(
        "nll_loss",
        input,
        target,
        weight,
        axis=class_axis,
        ignore_index=ignore_index,
        reduction=reduction,
        backend=backend,
    )
    return to_dtype(_in_units(loss, log_base), out_dtype, backend)


@quiet
def binary_cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    reduction: Reduction = "mean",
    base: float | None = None,
) -> Array:
    r"""Binary cross-entropy between probabilities ``input`` and targets ``target``.

    .. math:: \ell_i = -w_i \left[t_i \max(\log p_i, -100)
              + (1 - t_i) \max(\log(1 - p_i), -100)\right]

    The clamp at -100 is PyTorch's: a probability of exactly 0 or 1 gives a finite loss,
    and the gradient is PyTorch's :math:`w_i (p_i - t_i) / \max(p_i (1 - p_i), 10^{-12})`.
    The mean divides by the number of elements. Prefer
    :func:`binary_cross_entropy_with_logits`, which is exact for any logit.

    Parameters
    ----------
    input : array
        Probabilities in ``[0, 1]``.
    target : array
        Targets in ``[0, 1]``, of ``input``'s shape.
    weight : array, optional
        Elementwise weights broadcasting to ``input``'s shape.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.
    base : float, optional
        Logarithm base of the result's unit (``2`` for bits); the default is nats.

    Returns
    -------
    array
        A scalar, or ``input``'s shape for ``reduction="none"``.

    Raises
    ------
    ValueError
        For a target or weight of the wrong shape, and, where values can be read (NumPy,
        array-api-strict, torch on the CPU), for an ``input`` outside ``[0, 1]`` or NaN;
        elsewhere such an entry gives NaN.

    See Also
    --------
    torch.nn.functional.binary_cross_entropy : the same function.
    sklearn.metrics.log_loss : the mean for hard binary targets (clipped differently).

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> xloss.binary_cross_entropy(np.array([0.5, 1.0]), np.array([1.0, 0.0]), reduction="none")
    array([  0.69314718, 100.        ])
    """
    check_reduction(reduction)
    log_base = check_base(base)
    backend = resolve(input, target, weight)
    xp = backend.xp
    (input, target, weight), out_dtype = floating_inputs(
        backend, input=input, target=target, weight=weight
    )
    _check_same_shape(target, input, "binary_cross_entropy")
    _check_broadcasts(weight, tuple(input.shape), "weight", "binary_cross_entropy")
    if backend.inspectable and not bool(xp.all((input >= 0.0) & (input <= 1.0))):
        raise ValueError(
            "xloss: binary_cross_entropy: all elements of input should be probabilities "
            "between 0 and 1 (found a value outside [0, 1] or NaN)"
        )
    loss = call("binary_cross_entropy", input, target, weight, reduction=reduction, backend=backend)
    return to_dtype(_in_units(loss, log_base), out_dtype, backend)


@quiet
def binary_cross_entropy_with_logits(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    reduction: Reduction = "mean",
    pos_weight: Array | None = None,
    base: float | None = None,
) -> Array:
    r"""Binary cross-entropy between ``sigmoid(input)`` and ``target``, computed from logits.

    .. math:: \ell_i = w_i \left[(1 - t_i)\, x_i - \left(1 + (p_i - 1)\, t_i\right)
              \log \sigma(x_i)\right]

    with :math:`p` the ``pos_weight`` (1 by default), which scales the positive term
    :math:`-t_i \log \sigma(x_i)`. Written with the stable :math:`\log \sigma`, so any
    finite logit gives a finite, exact loss. The mean divides by the number of elements.

    Parameters
    ----------
    input : array
        Real floating logits.
    target : array
        Targets in ``[0, 1]`` of ``input``'s shape.
    weight : array, optional
        Elementwise weights broadcasting to ``input``'s shape.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.
    pos_weight : array, optional
        Weight of the positive term, broadcasting to ``input``'s shape (typically one per
        class, along the last axis).
    base : float, optional
        Logarithm base of the result's unit (``2`` for bits); the default is nats.

    Returns
    -------
    array
        A scalar, or ``input``'s shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.binary_cross_entropy_with_logits : the same function.
    optax.sigmoid_binary_cross_entropy : the elementwise values without weights.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> float(xloss.binary_cross_entropy_with_logits(np.array([1000.0]), np.array([0.0])))
    1000.0
    """
    check_reduction(reduction)
    log_base = check_base(base)
    backend = resolve(input, target, weight, pos_weight)
    (input, target, weight, pos_weight), out_dtype = floating_inputs(
        backend, input=input, target=target, weight=weight, pos_weight=pos_weight
    )
    function = "binary_cross_entropy_with_logits"
    _check_same_shape(target, input, function)
    _check_broadcasts(weight, tuple(input.shape), "weight", function)
    _check_broadcasts(pos_weight, tuple(input.shape), "pos_weight", function)
    loss = call(function, input, target, weight, pos_weight, reduction=reduction, backend=backend)
    return to_dtype(_in_units(loss, log_base), out_dtype, backend)


@quiet
def kl_div(
    input: Array,
    target: Array,
    *,
    reduction: Literal["mean", "sum", "none", "batchmean"] = "mean",
    log_target: bool = False,
    base: float | None = None,
) -> Array:
    r"""Kullback-Leibler divergence terms, PyTorch's ``kl_div(log q, p)``.

    .. math:: \ell_i = \begin{cases} t_i (\log t_i - x_i) & \text{log\_target false}
              \ (0 \text{ where } t_i = 0) \\ e^{t_i} (t_i - x_i) & \text{log\_target true}
              \end{cases}

    with ``input`` :math:`x = \log q` and ``target`` :math:`t = p` (or :math:`\log p`).
    Summed over a distribution's support this is :math:`\mathrm{KL}(p \,\|\, q)`.

    Parameters
    ----------
    input : array
        Log-probabilities :math:`\log q`.
    target : array
        Probabilities :math:`p`, or :math:`\log p` with ``log_target=True``; broadcast with
        ``input``.
    reduction : {"mean", "sum", "none", "batchmean"}, optional
        ``"batchmean"`` (the KL divergence per example) divides the sum by
        ``input.shape[0]``; ``"mean"`` divides by the number of elements, as PyTorch's
        ``"mean"`` does (without PyTorch's warning about it).
    log_target : bool, optional
        Whether ``target`` holds log-probabilities.
    base : float, optional
        Logarithm base of the result's unit (``2`` for bits); the default is nats.

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.kl_div : the same function.
    xloss.info.kl_divergence : KL divergence between two distributions.
    scipy.special.rel_entr : the elementwise terms on probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> p, q = np.array([[0.5, 0.5]]), np.array([[0.25, 0.75]])
    >>> round(float(xloss.kl_div(np.log(q), p, reduction="batchmean")), 12)
    0.143841036226
    """
    check_reduction(reduction, _KL_REDUCTIONS)
    log_base = check_base(base)
    backend = resolve(input, target)
    (input, target), out_dtype = floating_inputs(backend, input=input, target=target)
    loss = call(
        "kl_div", input, target, reduction=reduction, log_target=bool(log_target), backend=backend
    )
    return to_dtype(_in_units(loss, log_base), out_dtype, backend)


@quiet
def soft_margin_loss(input: Array, target: Array, *, reduction: Reduction = "mean") -> Array:
    r"""Two-class logistic loss for targets :math:`y \in \{-1, 1\}`.

    .. math:: \ell_i = \log\left(1 + e^{-y_i x_i}\right) = -\log \sigma(y_i x_i)

    Computed as a stable :math:`-\log \sigma`: finite where PyTorch's
    ``log1p(exp(-y x))`` overflows (:math:`-y x \gtrsim 89` in float32).

    Parameters
    ----------
    input : array
        Real floating scores.
    target : array
        Labels :math:`\pm 1` of ``input``'s shape.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.

    Returns
    -------
    array
        A scalar, or ``input``'s shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.soft_margin_loss : the same function.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> xloss.soft_margin_loss(np.array([0.0, -100.0]), np.array([1.0, 1.0]), reduction="none")
    array([  0.69314718, 100.        ])
    """
    check_reduction(reduction)
    backend = resolve(input, target)
    target = _as_floating_target(target, input, backend)
    (input, target), out_dtype = floating_inputs(backend, input=input, target=target)
    _check_same_shape(target, input, "soft_margin_loss")
    loss = call("soft_margin_loss", input, target, reduction=reduction, backend=backend)
    return to_dtype(loss, out_dtype, backend)


@quiet
def multilabel_soft_margin_loss(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    reduction: Reduction = "mean",
) -> Array:
    r"""Multi-label one-versus-all logistic loss, averaged over the classes.

    .. math:: \ell_n = -\frac{1}{C} \sum_c w_c \left[t_{nc} \log \sigma(x_{nc})
              + (1 - t_{nc}) \log \sigma(-x_{nc})\right]

    Parameters
    ----------
    input : array
        Logits of shape ``(C,)`` or ``(N, C)``.
    target : array
        Labels in ``{0, 1}`` (or probabilities) of ``input``'s shape; integer or boolean
        labels are accepted.
    weight : array, optional
        Per-class (or elementwise) weights broadcasting to ``input``'s shape.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over the examples, or the per-example losses.

    Returns
    -------
    array
        A scalar, or shape ``(N,)`` (``()`` for a 1-D input) for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.multilabel_soft_margin_loss : the same function.
    binary_cross_entropy_with_logits : the elementwise terms.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> x, t = np.array([[0.0, 1000.0]]), np.array([[1.0, 1.0]])
    >>> xloss.multilabel_soft_margin_loss(x, t, reduction="none")
    array([0.34657359])
    """
    check_reduction(reduction)
    backend = resolve(input, target, weight)
    target = _as_floating_target(target, input, backend)
    (input, target, weight), out_dtype = floating_inputs(
        backend, input=input, target=target, weight=weight
    )
    if input.ndim not in (1, 2):
        raise ValueError(
            "xloss: multilabel_soft_margin_loss: input must be (C,) or (N, C), "
            f"got shape {tuple(input.shape)}"
        )
    _check_same_shape(target, input, "multilabel_soft_margin_loss")
    _check_broadcasts(weight, tuple(input.shape), "weight", "multilabel_soft_margin_loss")
    loss = call(
        "multilabel_soft_margin_loss", input, target, weight, reduction=reduction, backend=backend
    )
    return to_dtype(loss, out_dtype, backend)


@quiet
def sigmoid_focal_loss(
    input: Array,
    target: Array,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "none",
) -> Array:
    r"""Focal loss of RetinaNet (Lin et al., 2017), with ``torchvision.ops`` semantics.

    .. math:: \ell_i = \alpha_{t,i}\, (1 - p_{t,i})^{\gamma}\,
              \mathrm{BCE}(x_i, t_i), \qquad p_{t,i} = p_i t_i + (1 - p_i)(1 - t_i),
              \qquad \alpha_{t,i} = \alpha t_i + (1 - \alpha)(1 - t_i)

    with :math:`p = \sigma(x)` and :math:`\mathrm{BCE}` the binary cross-entropy from
    logits. A negative ``alpha`` drops :math:`\alpha_t`, as torchvision. The modulating
    factor is computed in log space, :math:`1 - p_t = \sigma(x)(1 - t) + \sigma(-x)\,t`, so
    confident predictions keep their (tiny) loss where torchvision's ``1 - p_t`` rounds to
    0.

    Parameters
    ----------
    input : array
        Real floating logits.
    target : array
        Binary labels (or probabilities in ``[0, 1]``) of ``input``'s shape.
    alpha : float, optional
        Weight of the positive class in ``[0, 1]`` (default ``0.25``), or negative to
        disable the weighting.
    gamma : float, optional
        Focusing exponent :math:`\gamma \ge 0` (default ``2.0``).
    reduction : {"none", "mean", "sum"}, optional
        The elementwise losses (the default, as torchvision), or their mean or sum.

    Returns
    -------
    array
        ``input``'s shape for ``reduction="none"``, else a scalar.

    See Also
    --------
    torchvision.ops.sigmoid_focal_loss : the same function.
    optax.sigmoid_focal_loss : the same with ``alpha=None`` by default.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> xloss.sigmoid_focal_loss(np.array([0.0, 0.0]), np.array([1.0, 0.0]))
    array([0.0433217, 0.1299651])
    """
    check_reduction(reduction)
    for name, value in (("alpha", alpha), ("gamma", gamma)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"xloss: sigmoid_focal_loss: {name} must be a number, got {value!r}")
    if gamma < 0.0:
        raise ValueError(f"xloss: sigmoid_focal_loss: gamma must not be negative, got {gamma!r}")
    backend = resolve(input, target)
    target = _as_floating_target(target, input, backend)
    (input, target), out_dtype = floating_inputs(backend, input=input, target=target)
    _check_same_shape(target, input, "sigmoid_focal_loss")
    loss = call(
        "sigmoid_focal_loss",
        input,
        target,
        alpha=float(alpha),
        gamma=float(gamma),
        reduction=reduction,
        backend=backend,
    )
    return to_dtype(loss, out_dtype, backend)
