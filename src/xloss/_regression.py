"""Regression likelihoods: Gaussian and Poisson NLL, MSE, L1, Huber, smooth L1, log-cosh.

Each loss is a negative log-likelihood (MSE is the Gaussian NLL with unit variance, L1 the
Laplace NLL, up to a factor and a constant) with ``torch.nn.functional``'s name, argument
order, defaults and denominators; ``log_cosh_loss`` follows optax's ``log_cosh``.

The public functions resolve the backend, validate every option without touching data,
promote and cast the floating inputs, and hand the math to :mod:`xloss._dispatch`. The
generic definitions registered here (``register_generic``) are the reference that any
native entry (``register(name, kind)``) must equal. Their signatures, with every array
already in the compute dtype and every option validated:

``gaussian_nll_loss(input, target, var, *, full, eps, reduction, backend)``
    ``var`` already has one of PyTorch's accepted shapes (one dimension short has been
    expanded) and negative entries have been turned into NaN where values cannot be read.
``poisson_nll_loss(input, target, *, log_input, full, eps, reduction, backend)``
``mse_loss(input, target, *, weight, reduction, backend)``
``l1_loss(input, target, *, weight, reduction, backend)``
``huber_loss(input, target, *, delta, weight, reduction, backend)``
    ``delta > 0``.
``smooth_l1_loss(input, target, *, beta, reduction, backend)``
    ``beta > 0`` (``beta == 0`` is routed to ``l1_loss`` by the public function).
``log_cosh_loss(input, target, *, reduction, backend)``

``weight`` is ``None`` or an array of the input's shape; ``reduction`` is ``"mean"``,
``"sum"`` or ``"none"``. Each returns the reduced loss (elementwise for ``"none"``, in the
broadcast shape of its inputs).
"""

from __future__ import annotations

import math
from typing import Any

from . import _agnostic  # noqa: F401  (registers the generic primitives)
from ._backend import (
    Backend,
    check_reduction,
    floating_inputs,
    quiet,
    resolve,
    stop_gradient,
    to_dtype,
)
from ._backend import (
    reduce as _reduce,
)
from ._dispatch import call, register_generic
from ._typing import Array, Reduction

__all__ = [
    "gaussian_nll_loss",
    "huber_loss",
    "l1_loss",
    "log_cosh_loss",
    "mse_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# -- shared pieces ------------------------------------------------------------------------


def _weighted(
    loss: Array, weight: Array | None, reduction: str, backend: Backend, *, by_weight: bool
) -> Array:
    """Apply an elementwise ``weight``; the mean divides by ``sum(weight)`` or by the size."""
    if weight is None:
        return _reduce(loss, reduction, backend)
    loss = loss * weight
    if reduction == "mean" and by_weight:
        return backend.xp.sum(loss) / backend.xp.sum(weight)
    return _reduce(loss, reduction, backend)


def _abs(x: Array, backend: Backend) -> Array:
    """``|x|`` whose derivative is ``sign(x)`` (0 at 0, as PyTorch; ``jnp.abs`` gives 1)."""
    return backend.xp.sign(x) * x


def _check_weight(weight: Array | None, input: Array) -> None:
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            f"xloss: weight must have the input's shape {tuple(input.shape)}, "
            f"got {tuple(weight.shape)}"
        )


def _prepare(**named: Any) -> tuple[Backend, list[Array], Any]:
    backend = resolve(*named.values())
    arrays, out_dtype = floating_inputs(backend, **named)
    return backend, arrays, out_dtype


# -- generic definitions ------------------------------------------------------------------


@register_generic("gaussian_nll_loss")
def _gaussian_nll_generic(
    input: Array,
    target: Array,
    var: Array,
    *,
    full: bool,
    eps: float,
    reduction: str,
    backend: Backend,
) -> Array:
    xp = backend.xp
    # PyTorch clamps a clone of var in place under no_grad: the value is max(var, eps) but
    # the gradient reaches var unchanged (straight through). var - stop_gradient(var) is an
    # exact 0 that carries the identity derivative; the where keeps every value exact
    # (also inf and NaN, which an additive correction would turn into NaN).
    clamped = xp.where(var < eps, (var - stop_gradient(var, backend)) + eps, var)
    diff = input - target
    loss = 0.5 * (xp.log(clamped) + diff * diff / clamped)
    if full:
        loss = loss + _HALF_LOG_2PI
    return _reduce(loss, reduction, backend)


@register_generic("poisson_nll_loss")
def _poisson_nll_generic(
    input: Array,
    target: Array,
    *,
    log_input: bool,
    full: bool,
    eps: float,
    reduction: str,
    backend: Backend,
) -> Array:
    xp = backend.xp
    if log_input:
        loss = xp.exp(input) - target * input
    else:
        loss = input - target * xp.log(input + eps)
    if full:
        # Stirling's approximation of log(target!), masked to 0 where target <= 1 (PyTorch).
        # The inner where keeps log() away from 0 and negatives in the unused branch.
        above_one = target > 1
        safe = xp.where(above_one, target, 2.0)
        stirling = safe * xp.log(safe) - safe + 0.5 * xp.log(2.0 * math.pi * safe)
        loss = loss + xp.where(above_one, stirling, 0.0)
    return _reduce(loss, reduction, backend)


@register_generic("mse_loss")
def _mse_generic(
    input: Array, target: Array, *, weight: Array | None, reduction: str, backend: Backend
) -> Array:
    diff = input - target
    return _weighted(diff * diff, weight, reduction, backend, by_weight=True)


@register_generic("l1_loss")
def _l1_generic(
    input: Array, target: Array, *, weight: Array | None, reduction: str, backend: Backend
) -> Array:
    return _weighted(_abs(input - target, backend), weight, reduction, backend, by_weight=True)


@register_generic("huber_loss")
def _huber_generic(
    input: Array,
    target: Array,
    *,
    delta: float,
    weight: Array | None,
    reduction: str,
    backend: Backend,
) -> Array:
    xp = backend.xp
    diff = input - target
    size = _abs(diff, backend)
    loss = xp.where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    # PyTorch's weighted Huber mean divides by the number of elements, not by sum(weight).
    return _weighted(loss, weight, reduction, backend, by_weight=False)


@register_generic("smooth_l1_loss")
def _smooth_l1_generic(
    input: Array, target: Array, *, beta: float, reduction: str, backend: Backend
) -> Array:
    xp = backend.xp
    diff = input - target
    size = _abs(diff, backend)
    loss = xp.where(size < beta, 0.5 * diff * diff / beta, size - 0.5 * beta)
    return _reduce(loss, reduction, backend)


@register_generic("log_cosh_loss")
def _log_cosh_generic(input: Array, target: Array, *, reduction: str, backend: Backend) -> Array:
    xp = backend.xp
    size = _abs(input - target, backend)
    # log cosh a = log1p(2 sinh^2(a/2)) is accurate near 0, where optax's
    # logaddexp(a, -a) - log 2 cancels; a - log 2 + log1p(e^{-2a}) never overflows for
    # large a. Each branch sees only its own inputs (double where), so the unused branch
    # makes no inf whose zero cotangent would give a NaN gradient. Derivative: tanh(e).
    small = size < 1.0
    a_small = xp.where(small, size, 0.0)
    a_large = xp.where(small, 1.0, size)
    half_sinh = xp.sinh(0.5 * a_small)
    near_zero = xp.log1p(2.0 * half_sinh * half_sinh)
    far = a_large - math.log(2.0) + xp.log1p(xp.exp(-2.0 * a_large))
    return _reduce(xp.where(small, near_zero, far), reduction, backend)


# -- public functions ---------------------------------------------------------------------


def _gaussian_var(var: Array, input: Array, backend: Backend) -> Array:
    """PyTorch's accepted variance shapes (and its ValueError otherwise)."""
    if tuple(var.shape) == tuple(input.shape):
        return var
    if tuple(var.shape) == tuple(input.shape[:-1]):
        return backend.xp.expand_dims(var, axis=-1)  # homoscedastic over the last dim
    if (
        input.ndim == var.ndim
        and sum(v for i, v in zip(input.shape, var.shape, strict=True) if i != v) == 1
    ):
        return var  # one dimension of size 1, broadcast
    raise ValueError(
        f"xloss: var is of incorrect size {tuple(var.shape)} for input {tuple(input.shape)}: "
        "it must have the input's shape, its shape without the last dimension, or one "
        "dimension of size 1"
    )


@quiet
def gaussian_nll_loss(
    input: Array,
    target: Array,
    var: Array | float,
    *,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
) -> Array:
    r"""Negative log-likelihood of ``target`` under Gaussians of mean ``input`` and variance ``var``.

    .. math:: \ell_i = \tfrac12 \left(\log \max(\sigma^2_i, \epsilon)
              + \frac{(x_i - t_i)^2}{\max(\sigma^2_i, \epsilon)}\right)
              \;\left[+ \tfrac12 \log 2\pi \text{ if full}\right]

    The clamp at ``eps`` passes the gradient straight through to ``var`` (PyTorch clamps a
    copy under ``no_grad``), so a variance below ``eps`` still learns.

    Parameters
    ----------
    input : array
        Means of the Gaussian distributions.
    target : array
        Observations; broadcast with ``input``.
    var : array or float
        Positive variances: the input's shape (heteroscedastic), its shape without the last
        dimension or with one dimension of size 1 (homoscedastic along it), or a Python
        number for all.
    full : bool, optional
        Add the constant :math:`\tfrac12 \log 2\pi`.
    eps : float, optional
        Lower clamp of ``var`` (default ``1e-6``).
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    Raises
    ------
    ValueError
        For an unsupported ``var`` shape; for a negative ``var`` where values can be read
        (NumPy, array-api-strict, torch on the CPU); elsewhere a negative ``var`` gives NaN.

    See Also
    --------
    torch.nn.functional.gaussian_nll_loss : the same function.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> float(xloss.gaussian_nll_loss(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 1.0))
    0.25
    """
    check_reduction(reduction)
    if isinstance(var, (int, float)) and not isinstance(var, bool) and var < 0:
        raise ValueError("xloss: var has negative entry/entries")
    scalar_var = isinstance(var, (int, float))
    backend, (input, target, var), out_dtype = _prepare(input=input, target=target, var=var)
    xp = backend.xp
    if not scalar_var:  # a Python number stands for every element, as in PyTorch
        var = _gaussian_var(var, input, backend)
    negative = var < 0
    if backend.inspectable:
        if bool(xp.any(negative)):
            raise ValueError("xloss: var has negative entry/entries")
    else:
        var = xp.where(negative, math.nan, var)
    loss = call(
        "gaussian_nll_loss",
        input,
        target,
        var,
        full=full,
        eps=eps,
        reduction=reduction,
        backend=backend,
    )
    return to_dtype(loss, out_dtype, backend)


@quiet
def poisson_nll_loss(
    input: Array,
    target: Array,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: Reduction = "mean",
) -> Array:
    r"""Negative log-likelihood of counts ``target`` under Poisson distributions of rate ``input``.

    .. math:: \ell_i = \begin{cases} e^{x_i} - t_i x_i & \text{log\_input} \\
              x_i - t_i \log(x_i + \epsilon) & \text{otherwise} \end{cases}
              \;\left[+\; t_i \log t_i - t_i + \tfrac12 \log(2\pi t_i)
              \text{ where } t_i > 1 \text{, if full}\right]

    The optional term is Stirling's approximation of :math:`\log t_i!`; PyTorch masks it to
    0 where :math:`t_i \le 1`, and so does this function.

    Parameters
    ----------
    input : array
        Log-rates (``log_input=True``) or rates.
    target : array
        Observed counts (floating); broadcast with ``input``.
    log_input : bool, optional
        Whether ``input`` holds log-rates (default ``True``).
    full : bool, optional
        Add the Stirling term.
    eps : float, optional
        Added to the rate before its log when ``log_input=False`` (default ``1e-8``).
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.poisson_nll_loss : the same function.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> float(xloss.poisson_nll_loss(np.array([0.0]), np.array([2.0])))
    1.0
    """
    check_reduction(reduction)
    backend, (input, target), out_dtype = _prepare(input=input, target=target)
    loss = call(
        "poisson_nll_loss",
        input,
        target,
        log_input=log_input,
        full=full,
        eps=eps,
        reduction=reduction,
        backend=backend,
    )
    return to_dtype(loss, out_dtype, backend)


@quiet
def mse_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    weight: Array | None = None,
) -> Array:
    r"""Mean squared error, optionally weighted elementwise.

    .. math:: \ell_i = w_i (x_i - t_i)^2, \qquad
              \text{mean} = \frac{\sum_i \ell_i}{\sum_i w_i}

    Without ``weight`` the mean divides by the number of elements. It is the Gaussian
    negative log-likelihood with unit variance, times two, less a constant.

    Parameters
    ----------
    input : array
        Predictions.
    target : array
        Targets; broadcast with ``input``.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.
    weight : array, optional
        Elementwise weights of the input's shape (PyTorch 2.7+).

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.mse_loss : the same function.
    sklearn.metrics.mean_squared_error : the same value with ``(y_true, y_pred)`` order.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> float(xloss.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    2.5
    """
    check_reduction(reduction)
    backend, (input, target, weight), out_dtype = _prepare(
        input=input, target=target, weight=weight
    )
    _check_weight(weight, input)
    loss = call("mse_loss", input, target, weight=weight, reduction=reduction, backend=backend)
    return to_dtype(loss, out_dtype, backend)


@quiet
def l1_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    weight: Array | None = None,
) -> Array:
    r"""Mean absolute error, optionally weighted elementwise.

    .. math:: \ell_i = w_i |x_i - t_i|, \qquad
              \text{mean} = \frac{\sum_i \ell_i}{\sum_i w_i}

    Without ``weight`` the mean divides by the number of elements. The gradient at
    :math:`x_i = t_i` is 0, as in PyTorch.

    Parameters
    ----------
    input : array
        Predictions.
    target : array
        Targets; broadcast with ``input``.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.
    weight : array, optional
        Elementwise weights of the input's shape (PyTorch 2.7+).

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.l1_loss : the same function.
    sklearn.metrics.mean_absolute_error : the same value with ``(y_true, y_pred)`` order.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> float(xloss.l1_loss(np.array([1.0, -3.0]), np.array([0.0, 0.0])))
    2.0
    """
    check_reduction(reduction)
    backend, (input, target, weight), out_dtype = _prepare(
        input=input, target=target, weight=weight
    )
    _check_weight(weight, input)
    loss = call("l1_loss", input, target, weight=weight, reduction=reduction, backend=backend)
    return to_dtype(loss, out_dtype, backend)


def _check_positive(value: float, name: str, function: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"xloss: {function} needs a positive {name}, got {value!r}")


@quiet
def huber_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    delta: float = 1.0,
    weight: Array | None = None,
) -> Array:
    r"""Huber loss: squared error near zero, ``delta``-scaled absolute error beyond ``delta``.

    .. math:: \ell_i = w_i \begin{cases} \tfrac12 (x_i - t_i)^2 & |x_i - t_i| < \delta \\
              \delta \left(|x_i - t_i| - \tfrac12 \delta\right) & \text{otherwise} \end{cases}

    With ``weight``, the mean divides by the number of elements (PyTorch), unlike
    :func:`mse_loss` and :func:`l1_loss`, whose weighted means divide by the weights' sum.

    Parameters
    ----------
    input : array
        Predictions.
    target : array
        Targets; broadcast with ``input``.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.
    delta : float, optional
        Where the loss turns linear; must be positive (default ``1.0``).
    weight : array, optional
        Elementwise weights of the input's shape (PyTorch 2.7+).

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.huber_loss : the same function.
    optax.huber_loss : the elementwise values (``reduction="none"``).

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> xloss.huber_loss(np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction="none")
    array([0.125, 2.5  ])
    """
    check_reduction(reduction)
    _check_positive(delta, "delta", "huber_loss")
    backend, (input, target, weight), out_dtype = _prepare(
        input=input, target=target, weight=weight
    )
    _check_weight(weight, input)
    loss = call(
        "huber_loss",
        input,
        target,
        delta=float(delta),
        weight=weight,
        reduction=reduction,
        backend=backend,
    )
    return to_dtype(loss, out_dtype, backend)


@quiet
def smooth_l1_loss(
    input: Array,
    target: Array,
    *,
    reduction: Reduction = "mean",
    beta: float = 1.0,
) -> Array:
    r"""Smooth L1 loss: squared error divided by ``beta`` near zero, absolute error beyond.

    .. math:: \ell_i = \begin{cases} \tfrac12 (x_i - t_i)^2 / \beta & |x_i - t_i| < \beta \\
              |x_i - t_i| - \tfrac12 \beta & \text{otherwise} \end{cases}

    ``beta=0`` is :func:`l1_loss`; for ``beta > 0`` it equals ``huber_loss(delta=beta) / beta``.

    Parameters
    ----------
    input : array
        Predictions.
    target : array
        Targets; broadcast with ``input``.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses.
    beta : float, optional
        Where the loss turns linear; must not be negative (default ``1.0``).

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    See Also
    --------
    torch.nn.functional.smooth_l1_loss : the same function.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> xloss.smooth_l1_loss(np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction="none")
    array([0.125, 2.5  ])
    """
    check_reduction(reduction)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
        raise ValueError(f"xloss: smooth_l1_loss needs a non-negative beta, got {beta!r}")
    backend, (input, target), out_dtype = _prepare(input=input, target=target)
    if beta == 0:
        loss = call("l1_loss", input, target, weight=None, reduction=reduction, backend=backend)
    else:
        loss = call(
            "smooth_l1_loss", input, target, beta=float(beta), reduction=reduction, backend=backend
        )
    return to_dtype(loss, out_dtype, backend)


@quiet
def log_cosh_loss(input: Array, target: Array, *, reduction: Reduction = "mean") -> Array:
    r"""Logarithm of the hyperbolic cosine of the error (optax's ``log_cosh``), reduced.

    .. math:: \ell_i = \log \cosh (x_i - t_i)

    About :math:`\tfrac12 (x_i - t_i)^2` for small errors and :math:`|x_i - t_i| - \log 2`
    for large ones; computed without overflow for any finite error, and accurate near 0
    (where optax's ``logaddexp(e, -e) - log 2`` loses digits). The derivative is
    :math:`\tanh(x_i - t_i)`.

    Parameters
    ----------
    input : array
        Predictions.
    target : array
        Targets; broadcast with ``input``.
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every element, or the elementwise losses (optax's output).

    Returns
    -------
    array
        A scalar, or the broadcast shape for ``reduction="none"``.

    See Also
    --------
    optax.log_cosh : the elementwise values (``reduction="none"``).
    keras.losses.log_cosh : the mean over the last axis.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> float(xloss.log_cosh_loss(np.array([1000.0]), np.array([0.0])))  # 1000 - log 2
    999.3068528194401
    """
    check_reduction(reduction)
    backend, (input, target), out_dtype = _prepare(input=input, target=target)
    loss = call("log_cosh_loss", input, target, reduction=reduction, backend=backend)
    return to_dtype(loss, out_dtype, backend)
