"""Value, gradient and Hessian diagonal of the regression likelihoods.

The value is the public loss's own result (:mod:`xloss._regression`); the derivatives are
written out by hand against the array API from the same pieces (the error ``x - t``, its
size, the weights and the mean's denominator), so NumPy, CuPy and Dask get them without
autograd.
"""

from __future__ import annotations

import math
from typing import Any

from xloss import _regression as losses
from xloss._backend import Backend, check_reduction, floating_inputs, quiet, resolve, to_dtype
from xloss._typing import Array, Reduction

from ._common import results, scale_for, size_of, unbroadcast

__all__ = [
    "gaussian_nll_loss",
    "huber_loss",
    "l1_loss",
    "log_cosh_loss",
    "mse_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
]


def _prepare(**named: Any) -> tuple[Backend, list[Array], Any]:
    backend = resolve(*named.values())
    arrays, out_dtype = floating_inputs(backend, **named)
    return backend, arrays, out_dtype


def _finish(
    gradient: Array,
    hessian: Array | None,
    input: Array,
    out_dtype: Any,
    backend: Backend,
) -> tuple[Array, Array | None]:
    """Reduce broadcast dimensions to ``input``'s shape and cast to the caller's dtype."""
    gradient = to_dtype(unbroadcast(gradient, tuple(input.shape), backend), out_dtype, backend)
    if hessian is not None:
        hessian = to_dtype(unbroadcast(hessian, tuple(input.shape), backend), out_dtype, backend)
    return gradient, hessian


def _weight_scale(
    weight: Array | None,
    reduction: str,
    shape: tuple[int, ...],
    backend: Backend,
    *,
    by_weight: bool,
) -> Array | float:
    """Each element's factor: its weight over the mean's denominator (``sum(w)`` or the size)."""
    if weight is None:
        return scale_for(reduction, size_of(shape))
    if reduction == "mean":
        return weight / (backend.xp.sum(weight) if by_weight else size_of(shape))
    return weight


@quiet
def mse_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    weight: Array | None = None,
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Mean squared error with its gradient (and Hessian diagonal) with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac{2 w_i (x_i - t_i)}{D}, \qquad
              \frac{\partial^2 \ell}{\partial x_i^2} = \frac{2 w_i}{D}

    with :math:`D = \sum_i w_i` for ``reduction="mean"`` (the number of elements without
    ``weight``) and :math:`D = 1` otherwise.

    Parameters
    ----------
    input, target : array
        Predictions and targets (broadcast together).
    reduction : {"mean", "sum", "none"}, optional
        As :func:`xloss.mse_loss`; for ``"none"`` the gradient is that of the sum.
    weight : array, optional
        Elementwise weights of the input's shape.
    hessian : bool, optional
        Also return the diagonal of the Hessian with respect to ``input``.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``; the derivatives have
        ``input``'s shape.

    See Also
    --------
    xloss.mse_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    >>> float(loss), d_input
    (2.5, array([1., 2.]))
    """
    value = losses.mse_loss(input, target, reduction=reduction, weight=weight)
    backend, (input, target, weight), out_dtype = _prepare(
        input=input, target=target, weight=weight
    )
    diff = input - target
    scale = _weight_scale(weight, reduction, tuple(diff.shape), backend, by_weight=True)
    gradient = 2.0 * diff * scale
    curvature = 2.0 * scale + backend.xp.zeros_like(diff) if hessian else None
    return results(value, *_finish(gradient, curvature, input, out_dtype, backend))


@quiet
def l1_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    weight: Array | None = None,
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Mean absolute error with its gradient (and Hessian diagonal) with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac{w_i \operatorname{sign}(x_i - t_i)}{D},
              \qquad \frac{\partial^2 \ell}{\partial x_i^2} = 0

    The derivative at :math:`x_i = t_i` is 0 (PyTorch's choice); :math:`D` is as in
    :func:`mse_loss`.

    Parameters
    ----------
    input, target : array
        Predictions and targets (broadcast together).
    reduction : {"mean", "sum", "none"}, optional
        As :func:`xloss.l1_loss`; for ``"none"`` the gradient is that of the sum.
    weight : array, optional
        Elementwise weights of the input's shape.
    hessian : bool, optional
        Also return the (zero) Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.l1_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.l1_loss(np.array([1.0, -3.0]), np.array([0.0, 0.0]))
    >>> float(loss), d_input
    (2.0, array([ 0.5, -0.5]))
    """
    value = losses.l1_loss(input, target, reduction=reduction, weight=weight)
    backend, (input, target, weight), out_dtype = _prepare(
        input=input, target=target, weight=weight
    )
    diff = input - target
    scale = _weight_scale(weight, reduction, tuple(diff.shape), backend, by_weight=True)
    gradient = backend.xp.sign(diff) * scale
    curvature = backend.xp.zeros_like(diff) if hessian else None
    return results(value, *_finish(gradient, curvature, input, out_dtype, backend))


@quiet
def huber_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    delta: float = 1.0,
    weight: Array | None = None,
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Huber loss with its gradient (and Hessian diagonal) with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac{w_i}{D}
              \operatorname{clip}(x_i - t_i, -\delta, \delta), \qquad
              \frac{\partial^2 \ell}{\partial x_i^2} = \frac{w_i}{D} [|x_i - t_i| < \delta]

    :math:`D` is the number of elements for ``reduction="mean"`` (also with ``weight``, as
    PyTorch), else 1.

    Parameters
    ----------
    input, target : array
        Predictions and targets (broadcast together).
    reduction : {"mean", "sum", "none"}, optional
        As :func:`xloss.huber_loss`; for ``"none"`` the gradient is that of the sum.
    delta : float, optional
        Where the loss turns linear (positive).
    weight : array, optional
        Elementwise weights of the input's shape.
    hessian : bool, optional
        Also return the Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.huber_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.huber_loss(
    ...     np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction="sum"
    ... )
    >>> float(loss), d_input
    (2.625, array([0.5, 1. ]))
    """
    value = losses.huber_loss(input, target, reduction=reduction, delta=delta, weight=weight)
    backend, (input, target, weight), out_dtype = _prepare(
        input=input, target=target, weight=weight
    )
    xp = backend.xp
    diff = input - target
    scale = _weight_scale(weight, reduction, tuple(diff.shape), backend, by_weight=False)
    inside = xp.abs(diff) < delta
    gradient = xp.where(inside, diff, delta * xp.sign(diff)) * scale
    curvature = xp.astype(inside, diff.dtype) * scale if hessian else None
    return results(value, *_finish(gradient, curvature, input, out_dtype, backend))


@quiet
def smooth_l1_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    beta: float = 1.0,
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Smooth L1 loss with its gradient (and Hessian diagonal) with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac1D \begin{cases}
              (x_i - t_i)/\beta & |x_i - t_i| < \beta \\
              \operatorname{sign}(x_i - t_i) & \text{otherwise} \end{cases}

    ``beta=0`` is the L1 loss's gradient. :math:`D` is the number of elements for
    ``reduction="mean"``, else 1.

    Parameters
    ----------
    input, target : array
        Predictions and targets (broadcast together).
    reduction : {"mean", "sum", "none"}, optional
        As :func:`xloss.smooth_l1_loss`; for ``"none"`` the gradient is that of the sum.
    beta : float, optional
        Where the loss turns linear (non-negative).
    hessian : bool, optional
        Also return the Hessian diagonal (``1 / (beta D)`` inside, 0 outside).

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.smooth_l1_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.smooth_l1_loss(
    ...     np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction="sum"
    ... )
    >>> float(loss), d_input
    (2.625, array([0.5, 1. ]))
    """
    value = losses.smooth_l1_loss(input, target, reduction=reduction, beta=beta)
    backend, (input, target), out_dtype = _prepare(input=input, target=target)
    xp = backend.xp
    diff = input - target
    scale = scale_for(reduction, size_of(tuple(diff.shape)))
    if beta == 0:
        gradient = xp.sign(diff) * scale
        curvature = xp.zeros_like(diff) if hessian else None
    else:
        inside = xp.abs(diff) < beta
        gradient = xp.where(inside, diff / beta, xp.sign(diff)) * scale
        curvature = xp.astype(inside, diff.dtype) * (scale / beta) if hessian else None
    return results(value, *_finish(gradient, curvature, input, out_dtype, backend))


@quiet
def log_cosh_loss(
    input: Array, target: Array, *, reduction: Reduction = "mean", hessian: bool = False
) -> tuple[Array, ...]:
    r"""Log-cosh loss with its gradient (and Hessian diagonal) with respect to ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac{\tanh(x_i - t_i)}{D}, \qquad
              \frac{\partial^2 \ell}{\partial x_i^2} = \frac{1 - \tanh^2(x_i - t_i)}{D}

    Parameters
    ----------
    input, target : array
        Predictions and targets (broadcast together).
    reduction : {"mean", "sum", "none"}, optional
        As :func:`xloss.log_cosh_loss`; for ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal.

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.log_cosh_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.log_cosh_loss(np.array([0.0]), np.array([0.0]))
    >>> float(loss), d_input
    (0.0, array([0.]))
    """
    value = losses.log_cosh_loss(input, target, reduction=reduction)
    backend, (input, target), out_dtype = _prepare(input=input, target=target)
    xp = backend.xp
    slope = xp.tanh(input - target)
    scale = scale_for(reduction, size_of(tuple(slope.shape)))
    gradient = slope * scale
    # 1 - tanh^2 = 1 / cosh^2, without cancellation where tanh is near +-1.
    curvature = scale / xp.cosh(input - target) ** 2 if hessian else None
    return results(value, *_finish(gradient, curvature, input, out_dtype, backend))


@quiet
def poisson_nll_loss(
    input: Array,
    target: Array,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: Reduction = "mean",
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Poisson negative log-likelihood with its gradient (and Hessian diagonal) w.r.t. ``input``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac1D \begin{cases}
              e^{x_i} - t_i & \text{log\_input} \\
              1 - t_i / (x_i + \epsilon) & \text{otherwise} \end{cases}

    The Stirling term (``full=True``) does not depend on ``input``.

    Parameters
    ----------
    input : array
        Log-rates (``log_input=True``) or rates.
    target : array
        Observed counts; broadcast with ``input``.
    log_input, full, eps
        As :func:`xloss.poisson_nll_loss`.
    reduction : {"mean", "sum", "none"}, optional
        For ``"none"`` the gradient is that of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal (:math:`e^{x_i}/D`, or
        :math:`t_i/((x_i+\epsilon)^2 D)`).

    Returns
    -------
    tuple of array
        ``(loss, d_input)`` or ``(loss, d_input, h_input)``.

    See Also
    --------
    xloss.poisson_nll_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input = xloss.grad.poisson_nll_loss(np.array([0.0]), np.array([2.0]))
    >>> float(loss), d_input
    (1.0, array([-1.]))
    """
    value = losses.poisson_nll_loss(
        input, target, log_input=log_input, full=full, eps=eps, reduction=reduction
    )
    backend, (input, target), out_dtype = _prepare(input=input, target=target)
    xp = backend.xp
    shape = tuple(xp.broadcast_arrays(input, target)[0].shape)
    scale = scale_for(reduction, size_of(shape))
    if log_input:
        rate = xp.exp(input)
        gradient = (rate - target) * scale
        curvature = rate * scale + xp.zeros_like(target) if hessian else None
    else:
        shifted = input + eps
        gradient = (1.0 - target / shifted) * scale
        curvature = target / (shifted * shifted) * scale if hessian else None
    return results(value, *_finish(gradient, curvature, input, out_dtype, backend))


@quiet
def gaussian_nll_loss(
    input: Array,
    target: Array,
    var: Array | float,
    *,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
    hessian: bool = False,
) -> tuple[Array, ...]:
    r"""Gaussian negative log-likelihood with its gradients w.r.t. ``input`` and ``var``.

    .. math:: \frac{\partial \ell}{\partial x_i} = \frac{x_i - t_i}{v_i D}, \qquad
              \frac{\partial \ell}{\partial \sigma^2_i} = \frac{1}{2D}\left(\frac1{v_i}
              - \frac{(x_i - t_i)^2}{v_i^2}\right), \qquad v_i = \max(\sigma^2_i, \epsilon)

    The clamp passes the gradient straight through to ``var`` (as PyTorch), so the
    ``var`` derivative is evaluated at the clamped variance. A ``var`` broadcast along
    some dimension gets the sum of its elements' derivatives.

    Parameters
    ----------
    input, target : array
        Means and observations.
    var : array or float
        Variances (see :func:`xloss.gaussian_nll_loss` for the accepted shapes).
    full, eps, reduction
        As :func:`xloss.gaussian_nll_loss`; for ``"none"`` the gradients are those of the sum.
    hessian : bool, optional
        Also return the Hessian diagonal with respect to ``input`` (:math:`1/(v_i D)`).

    Returns
    -------
    tuple of array
        ``(loss, d_input, d_var)`` or ``(loss, d_input, d_var, h_input)``; ``d_var`` has
        ``var``'s shape (a 0-d array for a Python number).

    See Also
    --------
    xloss.gaussian_nll_loss : the value.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> loss, d_input, d_var = xloss.grad.gaussian_nll_loss(
    ...     np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([1.0, 1.0])
    ... )
    >>> float(loss), d_input, d_var
    (0.25, array([-0.5,  0. ]), array([0.  , 0.25]))
    """
    value = losses.gaussian_nll_loss(input, target, var, full=full, eps=eps, reduction=reduction)
    check_reduction(reduction)
    scalar_var = isinstance(var, (int, float))
    var_shape: tuple[int, ...] = () if isinstance(var, (int, float)) else tuple(var.shape)
    backend, (input, target, var), out_dtype = _prepare(input=input, target=target, var=var)
    xp = backend.xp
    if not scalar_var and tuple(var.shape) == tuple(input.shape[:-1]) != tuple(input.shape):
        var = xp.expand_dims(var, axis=-1)
    # A negative variance has already raised where values can be read; elsewhere NaN.
    clamped = xp.maximum(xp.where(var < 0, math.nan, var), eps)
    diff = input - target
    shape = tuple(xp.broadcast_arrays(diff, clamped)[0].shape)
    scale = scale_for(reduction, size_of(shape))
    gradient = diff / clamped * scale
    d_var = 0.5 * (1.0 / clamped - diff * diff / (clamped * clamped)) * scale
    d_var = to_dtype(
        xp.reshape(unbroadcast(d_var, tuple(var.shape), backend), var_shape), out_dtype, backend
    )
    curvature = scale / clamped + xp.zeros_like(diff) if hessian else None
    gradient, curvature = _finish(gradient, curvature, input, out_dtype, backend)
    return results(value, gradient, d_var, curvature)
