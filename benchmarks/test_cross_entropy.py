"""Cross-entropy: xloss against each library's own kernel, in the same run.

Every case is a group (``group`` x ``param`` = shape); within it ``extra_info['impl']``
names the implementation and ``benchmarks/report.py`` divides xloss's median by each
reference's. Forward is the mean loss; forward+backward adds autograd where it exists.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import xloss
from conftest import (
    logits_and_labels,
    needs_cuda,
    needs_cupy,
    needs_jax,
    needs_torch,
    saved_bytes,
)

TORCH_SHAPES = [(32, 10), (128, 100), (256, 1000), (4096, 1000), (2048, 32000)]


def _torch_data(shape, dtype="float32", device="cpu", grad=False):
    import torch

    x, y = logits_and_labels(*shape)
    xt = torch.asarray(x, device=device).to(getattr(torch, dtype))
    return xt.requires_grad_(grad), torch.asarray(y, device=device)


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def _torch_case(benchmark, impl, shape, *, dtype="float32", device="cpu", backward=False):
    import torch
    import torch.nn.functional as F

    x, y = _torch_data(shape, dtype, device, grad=backward)
    fn = {"xloss": xloss.cross_entropy, "torch": F.cross_entropy}[impl]

    def run():
        loss = fn(x, y)
        if backward:
            loss.backward()
            x.grad = None
        _sync(device)
        return loss

    benchmark.extra_info.update(impl=impl, backend=f"torch-{device}", dtype=dtype)
    if backward:  # xloss's custom backward (large torch CPU inputs) keeps no N x C tensor
        benchmark.extra_info["saved_bytes"] = saved_bytes(fn, x, y)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    benchmark(run)
    if device == "cuda":
        benchmark.extra_info["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20


@needs_torch
@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["xloss", "torch"])
def test_torch_cpu_forward(benchmark, impl, shape):
    benchmark.group = "cross_entropy fwd torch-cpu f32"
    _torch_case(benchmark, impl, shape)


@needs_torch
@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["xloss", "torch"])
def test_torch_cpu_forward_backward(benchmark, impl, shape):
    benchmark.group = "cross_entropy fwd+bwd torch-cpu f32"
    _torch_case(benchmark, impl, shape, backward=True)


@needs_torch
@pytest.mark.parametrize("impl", ["xloss", "torch"])
def test_torch_cpu_bfloat16(benchmark, impl):
    benchmark.group = "cross_entropy fwd torch-cpu bf16"
    _torch_case(benchmark, impl, (4096, 1000), dtype="bfloat16")
    benchmark.extra_info["shape"] = "4096x1000"


@needs_cuda
@pytest.mark.gpu
@pytest.mark.parametrize(
    "shape", [(4096, 1000), (2048, 32000), (8192, 128256)], ids=lambda s: f"{s[0]}x{s[1]}"
)
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("impl", ["xloss", "torch"])
def test_torch_cuda(benchmark, impl, shape, backward):
    benchmark.group = f"cross_entropy {'fwd+bwd' if backward else 'fwd'} torch-cuda f32"
    _torch_case(benchmark, impl, shape, device="cuda", backward=backward)
    n, c = shape
    benchmark.extra_info["bytes"] = n * c * 4 * (2 if backward else 1)


# -- NumPy: xloss vs a hand-written composition, the SciPy route, sklearn.log_loss ---------


def _numpy_impls():
    import scipy.special as sc

    def composed(x, y):
        m = x.max(axis=1, keepdims=True)
        shifted = x - m
        lse = np.log(np.exp(shifted).sum(axis=1))
        return np.mean(lse - np.take_along_axis(shifted, y[:, None], 1)[:, 0])

    def scipy_route(x, y):
        return -np.mean(np.take_along_axis(sc.log_softmax(x, axis=1), y[:, None], 1))

    def sklearn_route(x, y):
        from sklearn.metrics import log_loss

        return log_loss(y, sc.softmax(x, axis=1), labels=np.arange(x.shape[1]))

    return {
        "xloss": xloss.cross_entropy,
        "numpy": composed,
        "scipy": scipy_route,
        "sklearn": sklearn_route,
    }


@pytest.mark.parametrize("shape", [(256, 1000), (4096, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["xloss", "numpy", "scipy", "sklearn"])
def test_numpy_float64(benchmark, impl, shape):
    benchmark.group = "cross_entropy fwd numpy f64"
    x, y = logits_and_labels(*shape)
    x = x.astype(np.float64)
    fn = _numpy_impls()[impl]
    benchmark.extra_info.update(impl=impl, backend="numpy", dtype="float64")
    tracemalloc.start()
    fn(x, y)
    benchmark.extra_info["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    benchmark(fn, x, y)


@needs_torch
@pytest.mark.parametrize("shape", [(4096, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_numpy_float64_vs_single_thread_torch(benchmark, shape):
    """The reference for 'NumPy within 2x of single-threaded torch CPU'."""
    import torch
    import torch.nn.functional as F

    benchmark.group = "cross_entropy fwd numpy f64"
    x, y = logits_and_labels(*shape)
    xt, yt = torch.asarray(x.astype(np.float64)), torch.asarray(y)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        benchmark.extra_info.update(impl="torch-1-thread", backend="torch-cpu", dtype="float64")
        benchmark(F.cross_entropy, xt, yt)
    finally:
        torch.set_num_threads(threads)


# -- JAX under jit ----------------------------------------------------------------------


@needs_jax
@pytest.mark.parametrize("shape", [(256, 1000), (4096, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["xloss", "jax"])
def test_jax_jit(benchmark, impl, shape):
    import jax
    import jax.numpy as jnp

    benchmark.group = "cross_entropy fwd jax-jit f32"
    x, y = logits_and_labels(*shape)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def handwritten(logits, labels):
        log_p = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=-1))

    fn = jax.jit(xloss.cross_entropy if impl == "xloss" else handwritten)
    fn(xj, yj).block_until_ready()
    benchmark.extra_info.update(impl=impl, backend="jax-cpu", dtype="float32")
    benchmark(lambda: fn(xj, yj).block_until_ready())


# -- CuPy -----------------------------------------------------------------------------------


@needs_cupy
@pytest.mark.gpu
@pytest.mark.parametrize("impl", ["xloss", "cupyx", "torch"])
def test_cupy(benchmark, impl):
    import cupy
    import cupyx.scipy.special as cs

    benchmark.group = "cross_entropy fwd cupy f32"
    x, y = logits_and_labels(4096, 1000)
    xc, yc = cupy.asarray(x), cupy.asarray(y)

    def composed(a, b):
        return -cupy.mean(cupy.take_along_axis(cs.log_softmax(a, axis=1), b[:, None], 1))

    if impl == "torch":
        import torch

        fn_t = torch.nn.functional.cross_entropy
        xt, yt = torch.as_tensor(xc, device="cuda"), torch.as_tensor(yc, device="cuda")

        def run():
            out = fn_t(xt, yt)
            torch.cuda.synchronize()
            return out
    else:
        fn = xloss.cross_entropy if impl == "xloss" else composed

        def run():
            out = fn(xc, yc)
            cupy.cuda.Device().synchronize()
            return out

    benchmark.extra_info.update(impl=impl, backend="cupy", dtype="float32")
    benchmark(run)
