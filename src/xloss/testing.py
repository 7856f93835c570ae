"""Testing helpers: compare arrays across libraries and devices, and run code on every backend.

These are what ``python -m xloss check`` is built from, for use in your own tests::

    import pytest
    from xloss.testing import assert_close, available_backends

    @pytest.mark.parametrize("backend", available_backends(), ids=str)
    def test_my_loss(backend):
        x = backend.asarray(np.linspace(-3, 3, 7))
        assert_close(my_loss(x), reference(np.linspace(-3, 3, 7)), rtol=1e-12)

Frameworks are imported only when installed and asked for, so this module works with
NumPy alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ._check._backends import BackendInfo, Missing, discover
from ._check._backends import to_numpy as _to_numpy
from ._check._runner import Report, compare_function

__all__ = [
    "DEFAULT_TOLERANCES",
    "BackendInfo",
    "Report",
    "assert_close",
    "available_backends",
    "compare_backends",
    "missing_backends",
]

#: ``(rtol, atol)`` by the lower precision of the two arrays (float16 and bfloat16 as
#: ``torch.testing.assert_close``; float64 at the 1e-12 xloss promises across backends)
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-12, 1e-12),
    "float32": (1.3e-6, 1e-5),
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
}
_PRECISION = ("bfloat16", "float16", "float32", "float64")


def _dtype_name(x: Any) -> str | None:
    dtype = getattr(x, "dtype", None)
    return None if dtype is None else str(dtype).rsplit(".", 1)[-1]


def _is_floating(name: str | None) -> bool:
    return name in _PRECISION


def _library(x: Any) -> str:
    module = type(x).__module__.split(".")[0]
    return {"jaxlib": "jax"}.get(module, module)


def assert_close(
    actual: Any, desired: Any, *, rtol: float | None = None, atol: float | None = None
) -> None:
    """Assert that two arrays, from any libraries and devices, are equal up to tolerances.

    Both arrays are brought to the host through their library's own transfer (``.cpu()``,
    ``.get()``, ``.compute()``) or DLPack; neither is modified. Shapes must be equal, and
    dtypes too when both have one (``torch.float32`` equals ``numpy.float32``); a Python
    number or list as ``desired`` takes ``actual``'s dtype. Floating values must satisfy
    ``|actual - desired| <= atol + rtol * |desired|``, NaN matching NaN and infinities
    matching equal infinities; other dtypes must be equal.

    Parameters
    ----------
    actual, desired : array or array_like
        NumPy, array-api-strict, torch (any device), JAX, Dask, CuPy arrays, or Python
        numbers and lists.
    rtol, atol : float, optional
        Relative and absolute tolerances. By default they follow the lower precision of
        the two dtypes (:data:`DEFAULT_TOLERANCES`): float64 ``1e-12``/``1e-12``, float32
        ``1.3e-6``/``1e-5``, float16 ``1e-3``/``1e-5``, bfloat16 ``1.6e-2``/``1e-5``.

    Raises
    ------
    AssertionError
        With the number of mismatched elements and a table of the worst ones.

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.testing import assert_close
    >>> assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-14]))
    >>> assert_close(np.float32([1.0]), np.array([1.0]))
    Traceback (most recent call last):
    ...
    AssertionError: dtype mismatch: actual float32, desired float64
    """
    actual_dtype, desired_dtype = _dtype_name(actual), _dtype_name(desired)
    if actual_dtype is not None and desired_dtype is not None and actual_dtype != desired_dtype:
        raise AssertionError(f"dtype mismatch: actual {actual_dtype}, desired {desired_dtype}")
    a = _to_numpy(actual) if actual_dtype is not None else np.asarray(actual)
    d = _to_numpy(desired) if desired_dtype is not None else np.asarray(desired)
    if a.shape != d.shape:
        raise AssertionError(f"shape mismatch: actual {a.shape}, desired {d.shape}")
    names = [n for n in (actual_dtype, desired_dtype) if n is not None and _is_floating(n)]
    if not names and a.dtype.kind != "f" and d.dtype.kind != "f":
        if not np.array_equal(a, d):
            _raise(a, d, a != d, "values differ (exact comparison)", 0.0, 0.0)
        return
    precision = min(names, key=_PRECISION.index) if names else "float64"
    default_rtol, default_atol = DEFAULT_TOLERANCES[precision]
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    a64 = np.asarray(a, dtype=np.float64)
    d64 = np.asarray(d, dtype=np.float64)
    with np.errstate(all="ignore"):
        nan_a, nan_d = np.isnan(a64), np.isnan(d64)
        both_nan = nan_a & nan_d
        equal = (a64 == d64) | both_nan
        close = np.abs(a64 - d64) <= atol + rtol * np.abs(d64)
        bad = ~(equal | (close & np.isfinite(a64) & np.isfinite(d64)))
    if np.any(bad):
        _raise(a64, d64, bad, f"not close (rtol={rtol:g}, atol={atol:g})", rtol, atol)


def _raise(
    a: np.ndarray, d: np.ndarray, bad: np.ndarray, what: str, rtol: float, atol: float
) -> None:
    count, total = int(np.count_nonzero(bad)), bad.size
    with np.errstate(all="ignore"):
        diff = np.abs(np.asarray(a, np.float64) - np.asarray(d, np.float64))
        rel = diff / np.abs(np.asarray(d, np.float64))
    key = np.where(bad, np.nan_to_num(diff, nan=np.inf, posinf=np.inf), -1.0)
    order = np.argsort(key, axis=None, kind="stable")[::-1][: min(count, 5)]
    lines = [
        f"arrays {what}: {count} of {total} elements differ",
        f"  {'index':<16}{'actual':>24}{'desired':>24}{'abs diff':>12}{'rel diff':>12}",
    ]
    for flat in order:
        index = np.unravel_index(flat, bad.shape) if bad.ndim else ()
        lines.append(
            f"  {tuple(int(i) for i in index)!s:<16}{a[index].item()!r:>24}"
            f"{d[index].item()!r:>24}"
            f"{_g(float(diff[index])):>12}{_g(float(rel[index])):>12}"
        )
    if count > len(order):
        lines.append(f"  ... and {count - len(order)} more")
    raise AssertionError("\n".join(lines))


def _g(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3g}"


def available_backends(libraries: Iterable[str] | None = None) -> list[BackendInfo]:
    """Every installed array library x device that ``xloss check`` runs on, as data.

    Parameters
    ----------
    libraries : iterable of str, optional
        Restrict to these libraries (``"numpy"``, ``"array_api_strict"``, ``"torch"``,
        ``"jax"``, ``"dask"``, ``"cupy"``); all by default.

    Returns
    -------
    list of BackendInfo
        NumPy first. Each has a ``name`` (``"torch:cuda"``, ``"array_api_strict:device1"``,
        ...), ``library``, ``device``, the floating ``dtypes`` it supports (JAX's
        ``float64`` only with ``jax_enable_x64``), ``asarray(numpy_data, dtype=None)`` to
        put data there and ``to_numpy(x)`` to bring results back; ``str(backend)`` is its
        name, handy as a pytest id.

    Examples
    --------
    >>> from xloss.testing import available_backends
    >>> numpy_backend = available_backends(["numpy"])[0]
    >>> numpy_backend.name, numpy_backend.dtypes
    ('numpy', ('float64', 'float32', 'float16'))
    """
    return discover(libraries)[0]


def missing_backends(libraries: Iterable[str] | None = None) -> list[Missing]:
    """The libraries and devices not found, each with the reason and how to install it."""
    return discover(libraries)[1]


def compare_backends(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Report:
    """Run ``fn(*args, **kwargs)`` on every available backend and device; report the errors.

    NumPy (or other) arrays among the arguments are converted to each backend's arrays
    on its device, floating ones in float64 and float32 (float32 only where a backend has
    no float64); results are compared with ``fn`` on NumPy float64 inputs rounded the same
    way, in units of the dtype's eps (see ``python -m xloss check``). ``fn`` must return
    an array (or a tuple of arrays) in its inputs' library, on their device, in their
    dtype.

    Returns
    -------
    Report
        ``str(report)`` is the table ``xloss check`` prints; ``report.ok`` is false when
        any backend failed; ``report.results`` holds every comparison.

    Examples
    --------
    >>> import numpy as np
    >>> import xloss
    >>> from xloss.testing import compare_backends
    >>> report = compare_backends(xloss.special.softplus, np.linspace(-5.0, 5.0, 11))
    >>> report.ok
    True
    """
    return compare_function(fn, args, kwargs)
