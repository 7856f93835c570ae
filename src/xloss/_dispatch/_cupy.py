"""CuPy native entries: one CUDA block per row instead of ~6 composed kernel launches.

The composed route (``max``, ``where``, ``subtract``, ``exp``, ``sum``, ``log``, gather)
launches about six kernels for a log-sum-exp and a dozen for a cross-entropy, each
reading or writing the whole N x C matrix, and at ImageNet sizes the launches are the
cost. Here one block reduces each row: a max pass, then a pass summing ``exp(x - m)``
(for rows up to a few hundred KiB the second read hits L2), and, for cross-entropy, the
gathered target logit with ``ignore_index``, class weight and the NaN policy applied in
the same kernel, so a mean loss is one kernel plus two small sums.

The arithmetic per row is the generic definition's: the shift ``m`` is the row max
(NaN propagates) replaced by 0 where it is not finite, then ``log(sum(exp(x - m)))``
and, for log-probabilities, ``(x - m) - log s``; only the summation order differs (a
tree instead of CuPy's). ``tests/test_dispatch.py`` holds every entry against its
generic definition. Only C-contiguous float32/float64 data reduced over its last axis
takes this route; anything else returns ``NotImplemented``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import cupy
import numpy as np

from xloss._backend import Backend
from xloss._dispatch import register

_SOURCE = r"""
template <typename T> __device__ __forceinline__ T xl_exp(T v);
template <> __device__ __forceinline__ float xl_exp<float>(float v) { return expf(v); }
template <> __device__ __forceinline__ double xl_exp<double>(double v) { return exp(v); }
template <typename T> __device__ __forceinline__ T xl_log(T v);
template <> __device__ __forceinline__ float xl_log<float>(float v) { return logf(v); }
template <> __device__ __forceinline__ double xl_log<double>(double v) { return log(v); }
template <typename T> __device__ __forceinline__ T xl_inf();
template <> __device__ __forceinline__ float xl_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double xl_inf<double>() {
    return __longlong_as_double(0x7ff0000000000000LL);
}
template <typename T> __device__ __forceinline__ T xl_nan();
template <> __device__ __forceinline__ float xl_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double xl_nan<double>() {
    return __longlong_as_double(0x7ff8000000000000LL);
}

// max that propagates NaN, as numpy/cupy max do
template <typename T> __device__ __forceinline__ T xl_max(T a, T b) {
    return (a > b || a != a) ? a : b;
}

// Reduce over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
template <typename T, bool IS_MAX>
__device__ T xl_block_reduce(T v, T* partial) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        T other = __shfl_down_sync(0xffffffffu, v, offset);
        v = IS_MAX ? xl_max(v, other) : v + other;
    }
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int n_warps = blockDim.x >> 5;
        v = lane < n_warps ? partial[lane] : (IS_MAX ? -xl_inf<T>() : T(0));
        for (int offset = 16; offset > 0; offset >>= 1) {
            T other = __shfl_down_sync(0xffffffffu, v, offset);
            v = IS_MAX ? xl_max(v, other) : v + other;
        }
        if (lane == 0) partial[0] = v;
    }
    __syncthreads();
    v = partial[0];
    __syncthreads();  // partial may be reused right after
    return v;
}

// The generic definition's shift m (row max, 0 where not finite) and s = sum exp(x - m).
template <typename T>
__device__ void xl_row_stats(const T* row, long long c, T* partial, T& m, T& s) {
    T local = -xl_inf<T>();
    for (long long i = threadIdx.x; i < c; i += blockDim.x) local = xl_max(local, row[i]);
    m = xl_block_reduce<T, true>(local, partial);
    if (!isfinite(m)) m = T(0);
    T total = T(0);
    for (long long i = threadIdx.x; i < c; i += blockDim.x) total += xl_exp<T>(row[i] - m);
    s = xl_block_reduce<T, false>(total, partial);
}

template <typename T>
__global__ void xl_logsumexp(const T* x, long long c, T* out) {
    __shared__ T partial[32];
    T m, s;
    xl_row_stats<T>(x + (long long)blockIdx.x * c, c, partial, m, s);
    if (threadIdx.x == 0) out[blockIdx.x] = xl_log<T>(s) + m;
}

// log_softmax (log_out != 0): (x - m) - log s; softmax: exp(x - m) / s
template <typename T>
__global__ void xl_normalise(const T* x, long long c, int log_out, T* out) {
    __shared__ T partial[32];
    const long long base = (long long)blockIdx.x * c;
    T m, s;
    xl_row_stats<T>(x + base, c, partial, m, s);
    const T log_s = xl_log<T>(s);
    for (long long i = threadIdx.x; i < c; i += blockDim.x) {
        const T shifted = x[base + i] - m;
        out[base + i] = log_out ? shifted - log_s : xl_exp<T>(shifted) / s;
    }
}

// PyTorch's cross-entropy with class-index targets, per row: the weighted negative
// log-probability of the target (0 where ignored, NaN for a label outside [0, C)) and the
// row's term of the mean's denominator (its weight, 0 where ignored).
template <typename T>
__global__ void xl_cross_entropy(const T* x, const long long* y, const T* weight,
                                 int has_weight, long long c, long long ignore_index,
                                 T* nll, T* denominator) {
    __shared__ T partial[32];
    const long long r = blockIdx.x;
    T m, s;
    xl_row_stats<T>(x + r * c, c, partial, m, s);
    if (threadIdx.x == 0) {
        const long long label = y[r];
        const bool in_range = label >= 0 && label < c;
        const bool ignored = label == ignore_index;
        const long long safe = in_range ? label : 0;
        const T picked = (x[r * c + safe] - m) - xl_log<T>(s);
        const T w = has_weight ? weight[safe] : T(1);
        T loss = has_weight ? -picked * w : -picked;
        if (!in_range && !ignored) loss = xl_nan<T>();
        if (ignored) loss = T(0);
        nll[r] = loss;
        denominator[r] = ignored ? T(0) : w;
    }
}
"""

_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_KERNELS = ("xl_logsumexp", "xl_normalise", "xl_cross_entropy")


@functools.cache
def _module() -> Any:
    names = [f"{k}<{t}>" for k in _KERNELS for t in _TYPES.values()]
    module = cupy.RawModule(code=_SOURCE, name_expressions=names)
    try:
        module.compile()
    except cupy.cuda.compiler.CompileException as exc:  # an NVRTC this code does not suit
        warnings.warn(
            f"xloss: CuPy kernels did not compile, using the composed route: {exc}",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
    return module


def _kernel(name: str, dtype: Any) -> Any:
    """The compiled kernel for ``dtype``, or None where compilation failed."""
    module = _module()
    return None if module is None else module.get_function(f"{name}<{_TYPES[np.dtype(dtype)]}>")


def _threads(n_classes: int) -> int:
    for threads in (32, 64, 128, 256, 512):
        if n_classes <= 4 * threads:
            return threads
    return 1024


def _rows(x: Any, axis: Any) -> Any:
    """``x`` as a C-contiguous (rows, C) view when ``axis`` is its last axis, else None."""
    if (
        not isinstance(x, cupy.ndarray)
        or np.dtype(x.dtype) not in _TYPES
        or x.ndim == 0
        or x.size == 0
        or not x.flags.c_contiguous
    ):
        return None
    if isinstance(axis, tuple):
        if len(axis) != 1:
            return None
        axis = axis[0]
    if axis is None:
        if x.ndim != 1:
            return None
        axis = 0
    if axis % x.ndim != x.ndim - 1:
        return None
    rows = x.reshape(-1, x.shape[-1])
    return rows if rows.shape[0] < 2**31 else None


@register("logsumexp", "cupy")
def logsumexp(x: Any, *, axis: Any, keepdims: bool, backend: Backend) -> Any:
    rows = _rows(x, axis)
    kernel = None if rows is None else _kernel("xl_logsumexp", x.dtype)
    if kernel is None:
        return NotImplemented
    n, c = rows.shape
    with x.device:
        out = cupy.empty(n, dtype=x.dtype)
        kernel((n,), (_threads(c),), (rows, np.int64(c), out))
    return out.reshape((*x.shape[:-1], 1) if keepdims else x.shape[:-1])


def _normalised(x: Any, axis: int, *, log: bool) -> Any:
    rows = _rows(x, axis)
    kernel = None if rows is None else _kernel("xl_normalise", x.dtype)
    if kernel is None:
        return NotImplemented
    n, c = rows.shape
    with x.device:
        out = cupy.empty_like(rows)
        kernel((n,), (_threads(c),), (rows, np.int64(c), np.int32(1 if log else 0), out))
    return out.reshape(x.shape)


@register("log_softmax", "cupy")
def log_softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    return _normalised(x, axis, log=True)


@register("softmax", "cupy")
def softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    return _normalised(x, axis, log=False)


# Signature and semantics: the generic ``cross_entropy`` in xloss/_classification.py.
# Taken only for class-index targets without label smoothing (the smoothed term is a sum
# of log-probabilities whose rounding the kernel would not reproduce).
@register("cross_entropy", "cupy")
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
    if (
        label_smoothing != 0.0
        or target.dtype.kind not in "iu"
        or tuple(target.shape) != tuple(input.shape[:-1])
        or not -(2**63) <= ignore_index < 2**63
        or (weight is not None and weight.dtype != input.dtype)
    ):
        return NotImplemented
    rows = _rows(input, axis)
    kernel = None if rows is None else _kernel("xl_cross_entropy", input.dtype)
    if kernel is None:
        return NotImplemented
    n, c = rows.shape
    with input.device:
        labels = cupy.ascontiguousarray(target.reshape(-1), dtype=cupy.int64)
        nll = cupy.empty(n, dtype=input.dtype)
        denominator = cupy.empty(n, dtype=input.dtype)
        has_weight = weight is not None
        weights = cupy.ascontiguousarray(weight) if has_weight else nll
        kernel(
            (n,),
            (_threads(c),),
            (
                rows,
                labels,
                weights,
                np.int32(has_weight),
                np.int64(c),
                np.int64(ignore_index),
                nll,
                denominator,
            ),
        )
        if reduction == "none":
            return nll.reshape(target.shape)
        if reduction == "sum":
            return cupy.sum(nll)
        return cupy.sum(nll) / cupy.sum(denominator)
