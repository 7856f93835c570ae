"""Stable primitives that the array API standard does not have.

Every function accepts arrays from any array-API library, returns its result in the same
library, on the same device, in the input dtype (float16/bfloat16 are computed in float32
and rounded once). Values equal ``scipy.special`` to float64 rounding. NaN in gives NaN
out, including ``xlogy(0, nan)`` (SciPy's compiled kernels and CuPy agree; SciPy's generic
array-API fallback returns 0 there).
"""

from __future__ import annotations

from typing import Any

from . import _agnostic  # noqa: F401  (registers the generic definitions)
from ._agnostic import special as _generic  # noqa: F401
from ._backend import floating_inputs, quiet, resolve, to_dtype
from ._dispatch import call
from ._typing import Array

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


def _unary(name: str, x: Array, **options: Any) -> Array:
    backend = resolve(x)
    (x,), out_dtype = floating_inputs(backend, x=x)
    return to_dtype(call(name, x, backend=backend, **options), out_dtype, backend)


def _binary(name: str, x: Array, y: Array) -> Array:
    backend = resolve(x, y)
    (x, y), out_dtype = floating_inputs(backend, x=x, y=y)
    return to_dtype(call(name, x, y, backend=backend), out_dtype, backend)


@quiet
def logsumexp(
    x: Array, /, *, axis: int | tuple[int, ...] | None = None, keepdims: bool = False
) -> Array:
    r"""Logarithm of the sum of exponentials, computed without overflow.

    .. math:: \operatorname{logsumexp}(x) = m + \log \sum_i e^{x_i - m},\qquad m = \max_i x_i

    Parameters
    ----------
    x : array
        Real floating input.
    axis : int or tuple of int, optional
        Axes to reduce over; ``None`` (the default, as in SciPy) reduces over all axes.
    keepdims : bool, optional
        Keep the reduced axes with length one.

    Returns
    -------
    array
        ``x``'s shape without the reduced axes. A slice of all ``-inf`` gives ``-inf``; a
        slice containing ``+inf`` gives ``+inf``; NaN propagates; an empty slice gives
        ``-inf``.

    See Also
    --------
    scipy.special.logsumexp, torch.logsumexp, jax.nn.logsumexp

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import logsumexp
    >>> float(logsumexp(np.array([1000.0, 1000.0])))
    1000.6931471805599
    """
    return _unary("logsumexp", x, axis=axis, keepdims=keepdims)


@quiet
def log_softmax(x: Array, /, *, axis: int = -1) -> Array:
    r"""Logarithm of the softmax, ``x - logsumexp(x)``, computed stably (never ``log(softmax(x))``).

    .. math:: \log \sigma(x)_i = x_i - \log \sum_j e^{x_j}

    Parameters
    ----------
    x : array
        Real floating logits.
    axis : int, optional
        The axis the softmax normalises over (default ``-1``).

    Returns
    -------
    array
        Same shape as ``x``. Entries of ``-inf`` give ``-inf``; a slice of all ``-inf``
        gives NaN (as SciPy).

    See Also
    --------
    scipy.special.log_softmax, torch.nn.functional.log_softmax, jax.nn.log_softmax

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import log_softmax
    >>> log_softmax(np.array([0.0, np.log(3.0)]))
    array([-1.38629436, -0.28768207])
    """
    return _unary("log_softmax", x, axis=axis)


@quiet
def softmax(x: Array, /, *, axis: int = -1) -> Array:
    r"""The softmax, ``exp(x - logsumexp(x))``.

    .. math:: \sigma(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}

    Parameters
    ----------
    x : array
        Real floating logits.
    axis : int, optional
        The axis to normalise over (default ``-1``).

    Returns
    -------
    array
        Same shape as ``x``, non-negative, summing to one along ``axis``.

    See Also
    --------
    scipy.special.softmax, torch.softmax, jax.nn.softmax

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import softmax
    >>> softmax(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """
    return _unary("softmax", x, axis=axis)


@quiet
def sigmoid(x: Array, /) -> Array:
    r"""The logistic function, ``1 / (1 + exp(-x))``, without overflow.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}

    Parameters
    ----------
    x : array
        Real floating input.

    Returns
    -------
    array
        Same shape as ``x``, in ``[0, 1]``.

    See Also
    --------
    scipy.special.expit, torch.sigmoid, jax.nn.sigmoid

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import sigmoid
    >>> sigmoid(np.array([-800.0, 0.0, 800.0]))
    array([0. , 0.5, 1. ])
    """
    return _unary("sigmoid", x)


@quiet
def log_sigmoid(x: Array, /) -> Array:
    r"""Logarithm of the logistic function, ``-softplus(-x)``, stable for large ``|x|``.

    .. math:: \log \sigma(x) = \min(x, 0) - \log\!\left(1 + e^{-|x|}\right)

    Parameters
    ----------
    x : array
        Real floating input.

    Returns
    -------
    array
        Same shape as ``x``, non-positive.

    See Also
    --------
    scipy.special.log_expit, torch.nn.functional.logsigmoid, jax.nn.log_sigmoid

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import log_sigmoid
    >>> [round(float(v), 6) for v in log_sigmoid(np.array([-1000.0, 0.0]))]
    [-1000.0, -0.693147]
    """
    return _unary("log_sigmoid", x)


@quiet
def softplus(x: Array, /) -> Array:
    r"""``log(1 + exp(x))``, stable for large ``|x|`` (equals ``numpy.logaddexp(0, x)``).

    .. math:: \operatorname{softplus}(x) = \max(x, 0) + \log\!\left(1 + e^{-|x|}\right)

    Parameters
    ----------
    x : array
        Real floating input.

    Returns
    -------
    array
        Same shape as ``x``, non-negative.

    See Also
    --------
    numpy.logaddexp, scipy.special.softplus, jax.nn.softplus

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import softplus
    >>> [round(float(v), 6) for v in softplus(np.array([-1000.0, 0.0, 1000.0]))]
    [0.0, 0.693147, 1000.0]
    """
    return _unary("softplus", x)


@quiet
def xlogy(x: Array, y: Array, /) -> Array:
    r"""``x * log(y)``, with ``0 * log(y) = 0`` for every ``y`` that is not NaN.

    .. math:: \operatorname{xlogy}(x, y) = \begin{cases} 0 & x = 0 \\ x \log y & \text{else} \end{cases}

    Parameters
    ----------
    x, y : array or float
        Real floating inputs (broadcast together); a Python scalar takes the other's dtype.

    Returns
    -------
    array
        The broadcast shape. NaN in either input gives NaN.

    See Also
    --------
    scipy.special.xlogy, torch.special.xlogy

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import xlogy
    >>> xlogy(np.array([0.0, 2.0]), np.array([0.0, np.e]))
    array([0., 2.])
    """
    return _binary("xlogy", x, y)


@quiet
def xlog1py(x: Array, y: Array, /) -> Array:
    r"""``x * log1p(y)``, with ``0 * log1p(y) = 0`` for every ``y`` that is not NaN.

    .. math:: \operatorname{xlog1py}(x, y) = \begin{cases} 0 & x = 0 \\ x \log(1 + y) & \text{else} \end{cases}

    Parameters
    ----------
    x, y : array or float
        Real floating inputs (broadcast together).

    Returns
    -------
    array
        The broadcast shape. NaN in either input gives NaN.

    See Also
    --------
    scipy.special.xlog1py, torch.special.xlog1py

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import xlog1py
    >>> xlog1py(np.array([0.0, 1.0]), np.array([-1.0, np.e - 1.0]))
    array([0., 1.])
    """
    return _binary("xlog1py", x, y)


@quiet
def entr(p: Array, /) -> Array:
    r"""Elementwise entropy term ``-p log p``.

    .. math:: \operatorname{entr}(p) = \begin{cases} -p \log p & p > 0 \\ 0 & p = 0 \\ -\infty & p < 0 \end{cases}

    Parameters
    ----------
    p : array
        Real floating input.

    Returns
    -------
    array
        Same shape as ``p``; NaN propagates.

    See Also
    --------
    scipy.special.entr, torch.special.entr

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import entr
    >>> entr(np.array([0.0, 0.5, -1.0]))
    array([0.        , 0.34657359,       -inf])
    """
    return _unary("entr", p)


@quiet
def rel_entr(x: Array, y: Array, /) -> Array:
    r"""Elementwise relative entropy ``x log(x / y)``, the summand of the KL divergence.

    .. math:: \operatorname{rel\_entr}(x, y) = \begin{cases} x \log(x / y) & x > 0, y > 0 \\
              0 & x = 0, y \ge 0 \\ +\infty & \text{otherwise} \end{cases}

    Parameters
    ----------
    x, y : array or float
        Real floating inputs (broadcast together).

    Returns
    -------
    array
        The broadcast shape; NaN in either input gives NaN.

    See Also
    --------
    scipy.special.rel_entr

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.special import rel_entr
    >>> rel_entr(np.array([0.0, 0.5, 0.5]), np.array([0.0, 0.25, 0.0]))
    array([0.        , 0.34657359,        inf])
    """
    return _binary("rel_entr", x, y)
