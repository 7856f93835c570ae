"""Namespace, device and dtype resolution, and the argument checks every public function shares.

This is the only module that asks "which library is this?". Public functions call
:func:`resolve` once with all their array arguments and pass the resulting
:class:`Backend` (or its ``xp``) down; nothing below them looks the namespace up again.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import array_api_compat
import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as _device_of

from ._typing import Array, ArrayNamespace, Device, DType

__all__ = [
    "Backend",
    "check_base",
    "check_floating",
    "check_labels",
    "check_reduction",
    "floating_inputs",
    "label_masks",
    "quiet",
    "reduce",
    "compute_dtype",
    "resolve",
    "stop_gradient",
    "take_along_axis",
    "to_dtype",
]

_REDUCTIONS = ("mean", "sum", "none")
_LOW_PRECISION = frozenset({"float16", "bfloat16"})


def _kind_of(xp: ArrayNamespace) -> str:
    """Name the library behind a namespace ('numpy', 'torch', 'jax', 'dask', 'cupy', ...)."""
    if array_api_compat.is_numpy_namespace(xp):
        return "numpy"
    if array_api_compat.is_torch_namespace(xp):
        return "torch"
    if array_api_compat.is_jax_namespace(xp):
        return "jax"
    if array_api_compat.is_dask_namespace(xp):
        return "dask"
    if array_api_compat.is_cupy_namespace(xp):
        return "cupy"
    if array_api_compat.is_array_api_strict_namespace(xp):
        return "array_api_strict"
    return "other"


# (namespace, kind) per array type, filled on first sight. A plain dict rather than
# lru_cache: torch.compile traces through dict look-ups but warns on lru_cache, and the
# look-up is the whole per-call cost of resolution after the first call.
_NAMESPACES: dict[type, tuple[ArrayNamespace, str]] = {}


def _namespace_of_type(cls: type, example: Any) -> tuple[ArrayNamespace, str]:
    found = _NAMESPACES.get(cls)
    if found is None:
        if cls.__module__.startswith("torch"):
            # Resolved without array_namespace so that a first call inside torch.compile
            # does not trace array-api-compat's lru_cache.
            import array_api_compat.torch as torch_xp

            found = (torch_xp, "torch")
        else:
            xp = array_namespace(example)
            found = (xp, _kind_of(xp))
        _NAMESPACES[cls] = found
    return found


_SCALARS = (bool, int, float, complex)


def _is_array(value: Any) -> bool:
    return value is not None and not isinstance(value, _SCALARS)


_torch_probes: tuple[Any, Callable[[], bool], Callable[[], bool]] | None = None


def _torch_inspectable(device: Device) -> bool:
    """True only for eager CPU tensors outside any compiler or functorch transform."""
    global _torch_probes
    if _torch_probes is None:
        torch = sys.modules["torch"]
        # torch.func.grad / vmap wrap tensors; reading their values raises inside them.
        functorch_active = getattr(torch._C, "_are_functorch_transforms_active", None)
        _torch_probes = (
            torch.device("cpu"),
            torch.compiler.is_compiling,
            functorch_active or (lambda: False),
        )
    cpu, is_compiling, functorch_active = _torch_probes
    # ``device != cpu`` rather than ``device.type``: reading ``.type`` between a forward
    # and its backward was measured to slow that backward by ~5 us (torch 2.13, CPU).
    if device != cpu:
        return False  # CUDA would sync, MPS likewise, 'meta' has no values at all
    return not (is_compiling() or functorch_active())


class Backend:
    """The resolved library, device and capabilities for one public call.

    Attributes
    ----------
    xp
        The array-API namespace (array-api-compat's wrapper where one exists).
    kind
        ``"numpy"``, ``"torch"``, ``"jax"``, ``"dask"``, ``"cupy"``, ``"array_api_strict"``
        or ``"other"``.
    device
        The device every array argument lives on (``None`` for a traced JAX array).
    inspectable
        Whether values may be read on the host without forcing a device sync, breaking a
        trace or computing a lazy graph. Value checks raise errors only when this is true;
        elsewhere the documented NaN policy applies.
    """

    __slots__ = ("device", "inspectable", "kind", "xp")

    def __init__(self, xp: ArrayNamespace, kind: str, device: Device, inspectable: bool) -> None:
        self.xp = xp
        self.kind = kind
        self.device = device
        self.inspectable = inspectable

    def __repr__(self) -> str:
        return (
            f"Backend(kind={self.kind!r}, device={self.device!r}, inspectable={self.inspectable})"
        )

    def isdtype(self, dtype: DType, kind: str | tuple[str, ...]) -> bool:
        """``xp.isdtype``, remembered per dtype (it costs about a microsecond per call)."""
        return _isdtype(dtype, kind, self.xp)

    def full(self, shape: tuple[int, ...], value: float, dtype: DType) -> Array:
        """``xp.full`` on this device."""
        if self.device is None or self.kind == "dask":
            return self.xp.full(shape, value, dtype=dtype)
        return self.xp.full(shape, value, dtype=dtype, device=self.device)

    def asarray(self, value: Any, dtype: DType | None = None) -> Array:
        """A Python scalar (or nested sequence) as an array of ``dtype`` on this device."""
        if self.device is None or self.kind == "dask":
            return self.xp.asarray(value, dtype=dtype)
        return self.xp.asarray(value, dtype=dtype, device=self.device)


_F = TypeVar("_F", bound=Callable[..., Any])


_NUMPY_BACKED: dict[type, bool] = {}


def _numpy_backed(value: Any) -> bool:
    cls = type(value)
    found = _NUMPY_BACKED.get(cls)
    if found is None:
        found = issubclass(cls, np.ndarray) or cls.__module__.startswith("array_api_strict")
        _NUMPY_BACKED[cls] = found
    return found


def quiet(fn: _F) -> _F:
    """Run a public function with NumPy's floating-point warnings off.

    Every ``inf``/NaN an xloss function produces is a documented value (``log 0 = -inf``
    in a KL term, NaN for an all-ignored batch), not an accident; NumPy would otherwise
    warn about the intermediate steps, and under ``-W error`` raise. Other libraries do
    not warn, so this is the one place the quirk is handled.
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Only for libraries that compute with NumPy eagerly: entering np.errstate is
        # untraceable for torch.compile(fullgraph=True) and pointless elsewhere.
        for a in args:
            if _numpy_backed(a):
                with np.errstate(all="ignore"):
                    return fn(*args, **kwargs)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _describe(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve(*arrays: Any) -> Backend:
    """Resolve one namespace and one device from all array arguments.

    ``None`` and Python scalars are skipped. Arrays from two libraries raise
    ``TypeError``; arrays on two devices raise ``ValueError``; both messages name what
    was seen.
    """
    present = [a for a in arrays if _is_array(a)]
    if not present:
        raise TypeError("xloss: expected at least one array argument, got only scalars or None")
    first = present[0]
    cls = type(first)
    xp, kind = _namespace_of_type(cls, first)
    for a in present:
        if type(a) is not cls and _namespace_of_type(type(a), a)[0] is not xp:
            kinds = sorted({_describe(a) for a in present})
            raise TypeError(
                "xloss: all array arguments must come from one array library, got "
                + " and ".join(kinds)
            )
    if kind == "numpy":
        return Backend(xp, kind, "cpu", True)
    device = None
    for a in present:
        # torch answers directly (cheaper, and torch.compile-friendly: the generic helper
        # goes through lru_cache'd type checks that Dynamo warns about).
        d = a.device if kind == "torch" else _device_of(a)
        if d is None:  # a JAX array being traced has no device
            continue
        if device is None:
            device = d
        elif d != device:
            raise ValueError(
                f"xloss: all array arguments must be on one device, got {device} and {d}"
            )
    if kind == "array_api_strict":
        inspectable = True
    elif kind == "torch":
        inspectable = _torch_inspectable(device)
    else:  # jax (traced or not), dask (lazy), cupy (device sync), unknown libraries
        inspectable = False
    return Backend(xp, kind, device, inspectable)


def floating_inputs(backend: Backend, **named: Any) -> tuple[list[Array], DType]:
    """Check, promote and cast floating arguments for computation.

    Each keyword is an argument name and its value (an array or a Python scalar). Arrays
    must hold real floating data; all are promoted to one dtype, and everything is
    returned in the compute dtype (float32 for float16/bfloat16) together with the dtype
    the result must be cast back to. ``None`` values pass through unchanged.
    """
    xp = backend.xp
    arrays = []
    for name, value in named.items():
        if _is_array(value):
            check_floating(value, name, xp)
            arrays.append(value)
    out_dtype = arrays[0].dtype
    for other in arrays[1:]:
        if other.dtype != out_dtype:
            out_dtype = xp.result_type(*arrays)
            break
    dtype = compute_dtype(out_dtype, xp)
    converted: list[Array] = []
    for value in named.values():
        if value is None:
            converted.append(None)
        elif _is_array(value):
            converted.append(value if value.dtype == dtype else xp.astype(value, dtype))
        else:
            converted.append(backend.asarray(value, dtype))
    return converted, out_dtype


def to_dtype(x: Array, dtype: DType, backend: Backend) -> Array:
    """Cast a result back to the caller's dtype (a no-op when it already is)."""
    return x if x.dtype == dtype else backend.xp.astype(x, dtype)


def reduce(loss: Array, reduction: str, backend: Backend) -> Array:
    """Apply ``reduction`` (``"mean"`` over every element, ``"sum"`` or ``"none"``)."""
    if reduction == "mean":
        size = math.prod(loss.shape)
        if not isinstance(size, int):  # unknown (Dask chunks of unknown size)
            return backend.xp.mean(loss)
        # sum / size rather than xp.mean: an empty mean is NaN (0/0) without NumPy's
        # "Mean of empty slice" warning, which errstate does not silence.
        return backend.xp.sum(loss) / size
    if reduction == "sum":
        return backend.xp.sum(loss)
    return loss


# isdtype through array-api-compat costs about a microsecond; dtypes are few and hashable.
# The dtype's type leads the key: dtypes of two libraries are never compared.
_ISDTYPE: dict[tuple[type, Any, Any], bool] = {}


def _isdtype(dtype: DType, kind: str | tuple[str, ...], xp: ArrayNamespace) -> bool:
    key = (type(dtype), dtype, kind)
    found = _ISDTYPE.get(key)
    if found is None:
        found = _ISDTYPE[key] = bool(xp.isdtype(dtype, kind))
    return found


def check_floating(x: Array, name: str, xp: ArrayNamespace) -> None:
    """Raise ``TypeError`` unless ``x`` holds real floating-point data."""
    if not _isdtype(x.dtype, "real floating", xp):
        raise TypeError(f"xloss: {name} must be a real floating-point array, got dtype {x.dtype}")


def compute_dtype(dtype: DType, xp: ArrayNamespace) -> DType:
    """The dtype to compute in: float16 and bfloat16 compute in float32, others in themselves."""
    # Compare by name: ``np.dtype(...) == None`` is true (None means float64 to NumPy), and
    # NumPy-based libraries may carry ml_dtypes' bfloat16 without ``xp.bfloat16``.
    key = (type(dtype), dtype)
    low = _LOW.get(key)
    if low is None:
        low = _LOW[key] = str(dtype).rsplit(".", 1)[-1] in _LOW_PRECISION
    return xp.float32 if low else dtype


_LOW: dict[tuple[type, Any], bool] = {}


def _fits(value: int, dtype: DType, xp: ArrayNamespace) -> bool:
    """Whether a Python int is representable in an integer dtype (comparisons need it)."""
    info = xp.iinfo(dtype)
    return bool(info.min <= value <= info.max)


def label_masks(
    target: Array, n_classes: int, ignore_index: int, backend: Backend
) -> tuple[Array, Array | None]:
    """``(in_range, ignored)`` for class-index targets (``ignored`` is None if impossible)."""
    xp = backend.xp
    in_range = target >= 0
    if _fits(n_classes, target.dtype, xp):
        in_range = in_range & (target < n_classes)
    ignored = target == ignore_index if _fits(ignore_index, target.dtype, xp) else None
    return in_range, ignored


def check_labels(
    target: Array, n_classes: int, ignore_index: int, backend: Backend, function: str
) -> None:
    """Raise ``ValueError`` naming the first label outside ``[0, C)`` other than ``ignore_index``.

    Reads values, so only for ``backend.inspectable``; a loss entry calls it where its own
    computation has shown (or cannot rule out) such a label.
    """
    xp = backend.xp
    in_range, ignored = label_masks(target, n_classes, ignore_index, backend)
    valid = in_range if ignored is None else in_range | ignored
    if bool(xp.all(valid)):
        return
    first = int(xp.argmax(xp.astype(~xp.reshape(valid, (-1,)), xp.int8)))
    label = int(xp.reshape(target, (-1,))[first])
    raise ValueError(
        f"xloss: {function}: target label {label} is out of range for {n_classes} classes "
        f"(labels must lie in [0, {n_classes - 1}] or equal ignore_index={ignore_index})"
    )


def check_reduction(reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    """Raise ``ValueError`` for an unknown ``reduction``."""
    if reduction not in allowed:
        raise ValueError(
            f"xloss: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}"
        )


def check_base(base: float | None) -> float | None:
    """Validate a logarithm base and return ``log(base)`` (``None`` means natural units)."""
    if base is None:
        return None
    if isinstance(base, bool) or not isinstance(base, (int, float)):
        raise ValueError(
            f"xloss: base must be a positive number other than 1 or None, got {base!r}"
        )
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise ValueError(
            f"xloss: base must be a positive number other than 1 or None, got {base!r}"
        )
    return math.log(base)


def stop_gradient(x: Array, backend: Backend) -> Array:
    """``x`` with its gradient cut (the array API has no such operation)."""
    if backend.kind == "torch":
        return x.detach()
    if backend.kind == "jax":
        return sys.modules["jax"].lax.stop_gradient(x)
    return x  # no autograd on the other libraries


def take_along_axis(x: Array, indices: Array, axis: int, backend: Backend) -> Array:
    """``xp.take_along_axis``, with a one-hot gather where the library lacks it (Dask).

    ``indices`` must already lie in ``[0, x.shape[axis])``.
    """
    xp = backend.xp
    if backend.kind != "dask":
        return xp.take_along_axis(x, indices, axis=axis)
    # dask/dask#3663: no take_along_axis. Compare against the class positions instead; one
    # fused elementwise pass per block, no data-dependent shapes, stays lazy.
    n = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = n
    positions = xp.reshape(xp.arange(n, dtype=indices.dtype), tuple(shape))
    zero = xp.zeros((), dtype=x.dtype)
    return xp.sum(xp.where(indices == positions, x, zero), axis=axis, keepdims=True)
