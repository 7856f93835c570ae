"""Value, gradient and Hessian diagonal of the classification and divergence losses.

Each function computes its pieces once (the log-softmax and softmax, the one-hot target,
the per-target weights and the mean's denominator) and writes the derivatives out by hand
against the array API; the value is the public loss's own result. Index targets are turned
into a one-hot comparison against the class positions rather than gathered, so nothing
depends on data-dependent shapes (``jax.jit``) or on ``take_along_axis`` (Dask).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from xloss import _agnostic  # noqa: F401  (registers the generic primitives)
from xloss import _classification as losses
from xloss._backend import (
    Backend,
    check_base,
    check_reduction,
    floating_inputs,
    quiet,
    resolve,
    to_dtype,
)
from xloss._dispatch import call
from xloss._typing import Array, Reduction

from ._common import along, one_hot, results, scale_for, size_of, unbroadcast

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


def _finish(
    value: Array,
    gradient: Array,
    curvature: Array | None,
    input: Array,
    log_base: float | None,
    out_dtype: Any,
    backend: Backend,
) -> tuple[Array, ...]:
    """Convert units, reduce broadcast dimensions to ``input``'s shape, cast to the caller's dtype."""
    parts = []
    for part in (gradient, curvature):
        if part is not None:
            part = unbroadcast(_in_base(part, log_base), tuple(input.shape), backend)
            part = to_dtype(part, out_dtype, backend)
        parts.append(part)
    return results(to_dtype(value, out_dtype, backend), *parts)


def _in_base(x: Array | None, log_base: float | None) -> Array | None:
    return x if x is None or log_base is None else x / log_base


def _spread(p: Array, log_p: Array, backend: Backend) -> Array:
    """``p (1 - p)``, with ``1 - p = -expm1(log p)`` exact also where ``p`` is close to 1."""
    return p * (0.0 - backend.xp.expm1(log_p))


def _class_axis(axis: int | None, ndim: int) -> int:
    """PyTorch's class dimension (1, or 0 for a 1-D input) unless ``axis`` names one."""
    if axis is None:
        return 1 if ndim >= 2 else 0
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"xloss: axis {axis} is out of range for an input of {ndim} dimensions")
    return axis % ndim


# -- index targets ------------------------------------------------------------------------


class _Labels:
    """Class-index targets along ``axis``: the one-hot rows, validity and per-target weights."""

    def __init__(
        self,
        input: Array,
        target: Array,
        weight: Array | None,
        ignore_index: int,
        axis: int,
        backend: Backend,
    ) -> None:
        xp = backend.xp
        if xp.isdtype(target.dtype, "real floating") or xp.isdtype(target.dtype, "bool"):
            raise TypeError(
                f"xloss: class-index targets must be integers, got dtype {target.dtype}"
            )
        expected = tuple(input.shape[:axis]) + tuple(input.shape[axis + 1 :])
        if tuple(target.shape) != expected:
            raise ValueError(
                f"xloss: target of shape {tuple(target.shape)} fits neither class indices "
                f"{expected} nor probabilities {tuple(input.shape)} for input "
                f"{tuple(input.shape)}"
            )
        classes = input.shape[axis]
        if weight is not None and tuple(weight.shape) != (classes,):
            raise ValueError(
                f"xloss: weight must have one entry per class ({classes},), "
                f"got {tuple(weight.shape)}"
            )
        dtype = input.dtype
        valid = target != ignore_index
        # Out-of-range labels have already raised in the public loss where values can be
        # read; elsewhere their positions' derivatives are NaN, as their losses are.
        bad = valid & ((target < 0) | (target >= classes))
        self.valid = xp.astype(valid, dtype)
        self.bad = bad
        self.axis = axis
        self.classes = classes
        # An ignore_index that names a real class must not select it.
        hot = one_hot(target, classes, axis, dtype, backend) * xp.expand_dims(self.valid, axis=axis)
        if weight is None:
            self.class_weight: Array | None = None
            self.weighted_hot = hot
            self.total_weight: Array | float = float(classes)
        else:
            self.class_weight = along(weight, axis, input.ndim, backend)
            self.weighted_hot = hot * self.class_weight
            self.total_weight = xp.sum(weight)
        self.target_weight = xp.sum(self.weighted_hot, axis=axis)  # w[y_i], 0 where ignored

    def nan_where_bad(self, x: Array, backend: Backend, *, expand: bool) -> Array:
        bad = backend.xp.expand_dims(self.bad, axis=self.axis) if expand else self.bad
        return backend.xp.where(bad, math.nan, x)


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
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Softmax cross-entropy with its gradient (and Hessian diagonal) with respect to ``input``.

    With :math:`p = \operatorname{softmax}(x)` along the class axis, label smoothing
    :math:`\varepsilon`, class weights :math:`w` (all ones by default), :math:`W = \sum_c w_c`
    and :math:`v_i` 1 for a kept target and 0 for an ignored one, each position's derivative
    for a class-index target :math:`y_i` is

    .. math:: \frac{\partial \ell}{\partial x_{ic}} = \frac1D \Big(A_i\, p_{ic}
              - (1-\varepsilon)\, w_{y_i} v_i [c = y_i] - \tfrac{\varepsilon}{C} v_i w_c\Big),
              \qquad A_i = (1-\varepsilon) w_{y_i} v_i + \tfrac{\varepsilon}{C} v_i W

    and for probability targets :math:`t'_{ic} = (1-\varepsilon) t_{ic} + \varepsilon / C`,
    :math:`\partial \ell / \partial x_{ic} = (A_i p_{ic} - w_c t'_{ic}) / D` with
    :math:`A_i = \sum_c w_c t'_{ic}`. :math:`D` is PyTorch's mean denominator
    (:math:`\sum_i w_{y_i} v_i`, or the number of positions for probability targets) and 1
    for ``"sum"``/``"none"``. The Hessian diagonal is :math:`A_i p_{ic} (1 - p_{ic}) / D`.
    Each row's gradient sums to zero over the classes when the weights are equal.

    Parameters
    ----------
    input : array
        Logits, classes along ``axis``.
    target : array
        Class indices (the input's shape without the class axis) or probabilities (the
        input's shape).
    weight : array, optional
        Per-class weights of shape ``(C,)``.
    ignore_index, reduction, label_smoothing, axis, base
        As :func:`xloss.cross_entropy`; for ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal with respect to ``input``.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``; the derivatives have
        ``input``'s shape. Out-of-range labels raise ``ValueError`` where values can be
        read and give NaN elsewhere.

    See Also
    --------
    xloss.cross_entropy : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
    >>> float(loss), d_input
    (0.6931471805599453, array([[ 0.5, -0.5]]))
    """
    check_reduction(reduction)
    log_base = check_base(base)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"xloss: label_smoothing must lie in [0, 1], got {label_smoothing!r}")
    value = losses.cross_entropy(
        input,
        target,
        weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
        axis=axis,
        base=base,
    )
    backend = resolve(input, target, weight)
    xp = backend.xp
    probabilities = tuple(target.shape) == tuple(input.shape)
    if probabilities:
        if ignore_index >= 0:
            raise ValueError("xloss: ignore_index is not supported for probability targets")
        (input, target, weight), out_dtype = floating_inputs(
            backend, input=input, target=target, weight=weight
        )
    else:
        (input, weight), out_dtype = floating_inputs(backend, input=input, weight=weight)
    class_axis = _class_axis(axis, input.ndim)
    classes = input.shape[class_axis]
    log_p = call("log_softmax", input, axis=class_axis, backend=backend)
    p = xp.exp(log_p)
    smooth = float(label_smoothing)
    if probabilities:
        if weight is not None and tuple(weight.shape) != (classes,):
            raise ValueError(
                f"xloss: weight must have one entry per class ({classes},), "
                f"got {tuple(weight.shape)}"
            )
        smoothed = target * (1.0 - smooth) + smooth / classes if smooth else target
        weighted = (
            smoothed
            if weight is None
            else smoothed * along(weight, class_axis, input.ndim, backend)
        )
        row_weight = xp.sum(weighted, axis=class_axis, keepdims=True)
        denominator = size_of(tuple(input.shape)) / classes if classes else math.nan
        scale = scale_for(reduction, denominator)
        gradient = (row_weight * p - weighted) * scale
        curvature = row_weight * _spread(p, log_p, backend) * scale if hessian else None
    else:
        labels = _Labels(input, target, weight, ignore_index, class_axis, backend)
        valid = xp.expand_dims(labels.valid, axis=class_axis)
        row_weight = (1.0 - smooth) * xp.expand_dims(labels.target_weight, axis=class_axis)
        subtract = (1.0 - smooth) * labels.weighted_hot
        if smooth:
            class_weight = 1.0 if labels.class_weight is None else labels.class_weight
            row_weight = row_weight + (smooth / classes) * labels.total_weight * valid
            subtract = subtract + (smooth / classes) * class_weight * valid
        scale = 1.0 / xp.sum(labels.target_weight) if reduction == "mean" else 1.0
        # Ignored positions get exactly 0, also when every target is ignored (0/0), as torch.
        gradient = labels.nan_where_bad(
            xp.where(valid != 0, (row_weight * p - subtract) * scale, 0.0), backend, expand=True
        )
        curvature = (
            xp.where(valid != 0, row_weight * _spread(p, log_p, backend) * scale, 0.0)
            if hessian
            else None
        )
    return _finish(value, gradient, curvature, input, log_base, out_dtype, backend)


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
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Negative log-likelihood of log-probabilities with its gradient with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial x_{ic}} = -\frac{w_{y_i} v_i [c = y_i]}{D},
              \qquad \frac{\partial^2 \ell}{\partial x_{ic}^2} = 0

    with :math:`v_i` 0 for ignored targets and :math:`D = \sum_i w_{y_i} v_i` for
    ``reduction="mean"``, else 1.

    Parameters
    ----------
    input : array
        Log-probabilities, classes along ``axis``.
    target : array
        Class indices (the input's shape without the class axis).
    weight : array, optional
        Per-class weights of shape ``(C,)``.
    ignore_index, reduction, axis, base
        As :func:`xloss.nll_loss`; for ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the (zero) Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.nll_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.nll_loss(np.log(np.array([[0.5, 0.5]])), np.array([1]))
    >>> float(loss), d_input
    (0.6931471805599453, array([[ 0., -1.]]))
    """
    check_reduction(reduction)
    log_base = check_base(base)
    value = losses.nll_loss(
        input,
        target,
        weight,
        ignore_index=ignore_index,
        reduction=reduction,
        axis=axis,
        base=base,
    )
    backend = resolve(input, target, weight)
    xp = backend.xp
    (input, weight), out_dtype = floating_inputs(backend, input=input, weight=weight)
    class_axis = _class_axis(axis, input.ndim)
    labels = _Labels(input, target, weight, ignore_index, class_axis, backend)
    denominator = xp.sum(labels.target_weight)
    scale = 1.0 / denominator if reduction == "mean" else 1.0
    valid = xp.expand_dims(labels.valid, axis=class_axis) != 0
    gradient = xp.where(valid, (0.0 - labels.weighted_hot) * scale, 0.0)
    gradient = labels.nan_where_bad(gradient, backend, expand=True)
    curvature = xp.zeros_like(input) if hessian else None
    return _finish(value, gradient, curvature, input, log_base, out_dtype, backend)


def _broadcast_size(*arrays: Array | None, backend: Backend) -> tuple[int, ...]:
    present = [a for a in arrays if a is not None]
    return tuple(backend.xp.broadcast_arrays(*present)[0].shape)


@quiet
def binary_cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    reduction: Reduction = "mean",
    base: float | None = None,
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Binary cross-entropy of probabilities with its gradient with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial p_i} = \frac{w_i (p_i - t_i)}
              {D \max(p_i (1 - p_i), 10^{-12})}, \qquad
              \frac{\partial^2 \ell}{\partial p_i^2} = \frac{w_i}{D}
              \left(\frac{t_i}{p_i^2} + \frac{1 - t_i}{(1 - p_i)^2}\right)

    (PyTorch's backward, including its ``1e-12`` guard), :math:`D` the number of elements
    for ``reduction="mean"``, else 1.

    Parameters
    ----------
    input : array
        Probabilities in ``[0, 1]``.
    target : array
        Targets in ``[0, 1]`` (broadcast with ``input``).
    weight : array, optional
        Elementwise weights (broadcast).
    reduction, base
        As :func:`xloss.binary_cross_entropy`; for ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal with respect to ``input``.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.binary_cross_entropy : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.binary_cross_entropy(np.array([0.5]), np.array([1.0]))
    >>> float(loss), d_input
    (0.6931471805599453, array([-2.]))
    """
    check_reduction(reduction)
    log_base = check_base(base)
    value = losses.binary_cross_entropy(input, target, weight, reduction=reduction, base=base)
    backend = resolve(input, target, weight)
    xp = backend.xp
    (input, target, weight), out_dtype = floating_inputs(
        backend, input=input, target=target, weight=weight
    )
    # Probabilities outside [0, 1] have raised in the public loss where values can be
    # read; elsewhere they give NaN derivatives, as they give a NaN loss.
    outside = (input < 0) | (input > 1)
    input_checked = xp.where(outside, math.nan, input)
    w = 1.0 if weight is None else weight
    scale = scale_for(reduction, size_of(_broadcast_size(input, target, weight, backend=backend)))
    complement = 1.0 - input_checked
    gradient = w * (input_checked - target) / xp.maximum(input_checked * complement, 1e-12) * scale
    curvature = (
        w
        * (target / (input_checked * input_checked) + (1.0 - target) / (complement * complement))
        * scale
        if hessian
        else None
    )
    return _finish(value, gradient, curvature, input, log_base, out_dtype, backend)


@quiet
def binary_cross_entropy_with_logits(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    reduction: Reduction = "mean",
    pos_weight: Array | None = None,
    base: float | None = None,
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Sigmoid binary cross-entropy with its gradient (and Hessian diagonal) w.r.t. ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac{w_i}{D}
              \big((\pi t_i + 1 - t_i)\,\sigma(x_i) - \pi t_i\big), \qquad
              \frac{\partial^2 \ell}{\partial x_i^2} = \frac{w_i}{D}
              (\pi t_i + 1 - t_i)\,\sigma(x_i)\,\sigma(-x_i)

    with :math:`\pi` the ``pos_weight`` (1 by default) and :math:`D` the number of
    elements for ``reduction="mean"``, else 1. Both factors of the Hessian are computed
    from ``sigmoid(x)`` and ``sigmoid(-x)``, so neither cancels for large ``|x|``.

    Parameters
    ----------
    input : array
        Logits.
    target : array
        Targets in ``[0, 1]`` (broadcast with ``input``).
    weight : array, optional
        Elementwise weights (broadcast).
    reduction, pos_weight, base
        As :func:`xloss.binary_cross_entropy_with_logits`; for ``"none"`` the gradient is
        that of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal with respect to ``input``.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.binary_cross_entropy_with_logits : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input, h_input = xloss.grad.binary_cross_entropy_with_logits(
    ...     np.array([0.0]), np.array([1.0]), hessian=True
    ... )
    >>> float(loss), d_input, h_input
    (0.6931471805599453, array([-0.5]), array([0.25]))
    """
    check_reduction(reduction)
    log_base = check_base(base)
    value = losses.binary_cross_entropy_with_logits(
        input,
        target,
        weight,
        reduction=reduction,
        pos_weight=pos_weight,
        base=base,
    )
    backend = resolve(input, target, weight, pos_weight)
    (input, target, weight, pos_weight), out_dtype = floating_inputs(
        backend, input=input, target=target, weight=weight, pos_weight=pos_weight
    )
    w = 1.0 if weight is None else weight
    shape = _broadcast_size(input, target, weight, pos_weight, backend=backend)
    scale = scale_for(reduction, size_of(shape))
    s = call("sigmoid", input, backend=backend)
    if pos_weight is None:
        gradient = w * (s - target) * scale
        log_weight: Array | float = 1.0
    else:
        log_weight = pos_weight * target + (1.0 - target)
        gradient = w * (log_weight * s - pos_weight * target) * scale
    curvature = (
        w * log_weight * s * call("sigmoid", -input, backend=backend) * scale if hessian else None
    )
    return _finish(value, gradient, curvature, input, log_base, out_dtype, backend)


@quiet
def kl_div(
    input: Array,
    target: Array,
    *,
    reduction: Literal["mean", "sum", "none", "batchmean"] = "mean",
    log_target: bool = False,
    base: float | None = None,
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""PyTorch's ``kl_div`` with its gradient with respect to ``input`` (log-probabilities).

    .. math:: \frac{\partial \ell}{\partial x_i} = -\frac{t_i}{D} \;(t_i > 0;\ 0 \text{ else}),
              \qquad \text{or } -\frac{e^{t_i}}{D} \text{ with log\_target}

    :math:`D` is the number of elements for ``"mean"``, the first dimension for
    ``"batchmean"``, else 1. The Hessian with respect to ``input`` is zero.

    Parameters
    ----------
    input : array
        Log-probabilities of the model.
    target : array
        Probabilities (or log-probabilities with ``log_target=True``).
    reduction, log_target, base
        As :func:`xloss.kl_div`; for ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the (zero) Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.kl_div : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.kl_div(
    ...     np.log(np.array([[0.5, 0.5]])), np.array([[1.0, 0.0]]), reduction="batchmean"
    ... )
    >>> float(loss), d_input
    (0.6931471805599453, array([[-1.,  0.]]))
    """
    check_reduction(reduction, ("mean", "sum", "none", "batchmean"))
    log_base = check_base(base)
    value = losses.kl_div(input, target, reduction=reduction, log_target=log_target, base=base)
    backend = resolve(input, target)
    xp = backend.xp
    (input, target), out_dtype = floating_inputs(backend, input=input, target=target)
    shape = _broadcast_size(input, target, backend=backend)
    if reduction == "batchmean":
        denominator: float = shape[0] if len(shape) else 1
    else:
        denominator = size_of(shape)
    scale = scale_for("mean" if reduction == "batchmean" else reduction, denominator)
    if log_target:
        probability = xp.exp(target)
        gradient = -probability * scale
    else:
        positive = target > 0
        gradient = xp.where(positive, -target, 0.0) * scale
    curvature = xp.zeros_like(input) if hessian else None
    if tuple(gradient.shape) != shape:  # a target broadcast up to the input
        gradient = xp.broadcast_to(gradient, shape)
    return _finish(value, gradient, curvature, input, log_base, out_dtype, backend)


@quiet
def soft_margin_loss(
    input: Array, target: Array, *, reduction: Reduction = "mean", hessian: bool = False
) -> tuple[Array, ...]:
    r"""Soft margin loss with its gradient (and Hessian diagonal) with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = -\frac{y_i\, \sigma(-y_i x_i)}{D}, \qquad
              \frac{\partial^2 \ell}{\partial x_i^2} = \frac{y_i^2\, \sigma(y_i x_i)\,
              \sigma(-y_i x_i)}{D}

    computed from ``sigmoid`` without overflow; :math:`D` is the number of elements for
    ``reduction="mean"``, else 1.

    Parameters
    ----------
    input : array
        Scores.
    target : array
        Labels in ``{-1, 1}`` (floating; broadcast with ``input``).
    reduction : {"mean", "sum", "none"}, optional
        As :func:`xloss.soft_margin_loss`; for ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.soft_margin_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.soft_margin_loss(np.array([0.0]), np.array([1.0]))
    >>> float(loss), d_input
    (0.6931471805599453, array([-0.5]))
    """
    check_reduction(reduction)
    value = losses.soft_margin_loss(input, target, reduction=reduction)
    backend = resolve(input, target)
    (input, target), out_dtype = floating_inputs(backend, input=input, target=target)
    margin = target * input
    shape = tuple(margin.shape)
    scale = scale_for(reduction, size_of(shape))
    below = call("sigmoid", -margin, backend=backend)
    gradient = -target * below * scale
    curvature = (
        target * target * below * call("sigmoid", margin, backend=backend) * scale
        if hessian
        else None
    )
    return _finish(value, gradient, curvature, input, None, out_dtype, backend)


@quiet
def multilabel_soft_margin_loss(
    input: Array,
    target: Array,
    weight: Array | None = None,
    *,
    reduction: Reduction = "mean",
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Multi-label soft margin loss with its gradient (and Hessian diagonal) w.r.t. ``input``.

    .. math:: \frac{\partial \ell}{\partial x_{nc}} = \frac{w_c\, (\sigma(x_{nc}) - t_{nc})}{C D},
              \qquad \frac{\partial^2 \ell}{\partial x_{nc}^2} =
              \frac{w_c\, \sigma(x_{nc})\, \sigma(-x_{nc})}{C D}

    with :math:`C` the size of the last (class) dimension and :math:`D` the number of rows
    for ``reduction="mean"``, else 1.

    Parameters
    ----------
    input : array
        Logits, classes along the last dimension.
    target : array
        Targets in ``[0, 1]`` of the input's shape.
    weight : array, optional
        Per-class weights (broadcast against ``input``).
    reduction : {"mean", "sum", "none"}, optional
        As :func:`xloss.multilabel_soft_margin_loss`; for ``"none"`` the gradient is that
        of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.multilabel_soft_margin_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.multilabel_soft_margin_loss(
    ...     np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]])
    ... )
    >>> float(loss), d_input
    (0.6931471805599453, array([[-0.25,  0.25]]))
    """
    check_reduction(reduction)
    value = losses.multilabel_soft_margin_loss(input, target, weight, reduction=reduction)
    backend = resolve(input, target, weight)
    xp = backend.xp
    (input, target, weight), out_dtype = floating_inputs(
        backend, input=input, target=target, weight=weight
    )
    classes = input.shape[-1] if input.ndim else 1
    rows = size_of(tuple(input.shape[:-1]))
    w = 1.0 if weight is None else weight
    scale = scale_for(reduction, rows) / classes
    s = call("sigmoid", input, backend=backend)
    gradient = w * (s - target) * scale
    curvature = (
        w * s * call("sigmoid", -input, backend=backend) * scale + xp.zeros_like(input)
        if hessian
        else None
    )
    return _finish(value, gradient, curvature, input, None, out_dtype, backend)


@quiet
def sigmoid_focal_loss(
    input: Array,
    target: Array,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "none",
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Sigmoid focal loss (torchvision) with its gradient (and Hessian diagonal) w.r.t. ``input``.

    With :math:`s = \sigma(x)`, :math:`c = \text{BCE}(x, t)`, :math:`m = 1 - p_t =
    s(1 - t) + (1 - s) t` and :math:`\alpha_t = \alpha t + (1 - \alpha)(1 - t)`
    (1 for ``alpha < 0``),

    .. math:: \ell = \alpha_t\, c\, m^\gamma, \qquad
              \frac{\partial \ell}{\partial x} = \frac{\alpha_t}{D}\Big((s - t)\, m^\gamma
              + \gamma\, c\, m^{\gamma - 1}\, s(1 - s)(1 - 2t)\Big)

    with :math:`D` the number of elements for ``reduction="mean"``, else 1. :math:`m` and
    :math:`s(1-s)` are formed from ``sigmoid(x)`` and ``sigmoid(-x)``, so nothing cancels.

    Parameters
    ----------
    input : array
        Logits.
    target : array
        Targets in ``[0, 1]`` (broadcast with ``input``).
    alpha, gamma, reduction
        As :func:`xloss.sigmoid_focal_loss`; for ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.sigmoid_focal_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.sigmoid_focal_loss(
    ...     np.array([0.0]), np.array([1.0]), alpha=-1.0, gamma=0.0
    ... )
    >>> loss, d_input
    (array([0.69314718]), array([-0.5]))
    """
    check_reduction(reduction)
    value = losses.sigmoid_focal_loss(input, target, alpha=alpha, gamma=gamma, reduction=reduction)
    backend = resolve(input, target)
    xp = backend.xp
    (input, target), out_dtype = floating_inputs(backend, input=input, target=target)
    gamma = float(gamma)
    s = call("sigmoid", input, backend=backend)
    s_minus = call("sigmoid", -input, backend=backend)  # 1 - s without cancellation
    slope = s * s_minus  # s'
    ce = target * call("softplus", -input, backend=backend) + (1.0 - target) * call(
        "softplus", input, backend=backend
    )
    m = s * (1.0 - target) + s_minus * target
    k = 1.0 - 2.0 * target
    positive = m > 0
    safe_m = xp.where(positive, m, 1.0)
    focus = m**gamma if gamma else xp.ones_like(m)  # m^gamma, with 0^0 = 1
    # gamma m^(gamma-1), 0 where m = 0 (there s(1-s) = 0 too, and m^(gamma-1) may be inf).
    focus_slope = xp.where(positive, gamma * safe_m ** (gamma - 1.0), 0.0) if gamma else None
    alpha_t = 1.0 if alpha < 0 else alpha * target + (1.0 - alpha) * (1.0 - target)
    shape = tuple(xp.broadcast_arrays(input, target)[0].shape)
    scale = scale_for(reduction, size_of(shape))
    d_m = slope * k  # m'
    d_ce = s - target
    gradient = d_ce * focus
    if focus_slope is not None:
        gradient = gradient + ce * focus_slope * d_m
    gradient = alpha_t * gradient * scale
    curvature = None
    if hessian:
        # (c g)'' = c'' g + 2 c' g' + c g'', g = m^gamma, c'' = s', m'' = s'(1 - 2s) k.
        curvature = slope * focus
        if focus_slope is not None:
            d2_m = slope * (s_minus - s) * k
            second = (
                xp.where(positive, gamma * (gamma - 1.0) * safe_m ** (gamma - 2.0), 0.0) * d_m * d_m
            )
            curvature = curvature + 2.0 * d_ce * focus_slope * d_m
            curvature = curvature + ce * (second + focus_slope * d2_m)
        curvature = alpha_t * curvature * scale
    return _finish(value, gradient, curvature, input, None, out_dtype, backend)
