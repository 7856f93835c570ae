"""Shared fixtures for the benchmark suite: seeded data and the skip rules per backend."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA device")


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def cuda_available() -> bool:
    if not has("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def logits_and_labels(n: int, c: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c), dtype=np.float32) * 3, rng.integers(0, c, n)


def saved_bytes(fn: Any, *inputs: Any) -> int:
    """Bytes torch autograd keeps for the backward of ``fn(*inputs)`` beyond the inputs
    (distinct storages)."""
    import torch

    saved: dict[int, int] = {}

    def pack(t: Any) -> Any:
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*inputs)
    for t in inputs:
        saved.pop(t.untyped_storage().data_ptr(), None)
    return sum(saved.values())


needs_torch = pytest.mark.skipif(not has("torch"), reason="torch is not installed")
needs_jax = pytest.mark.skipif(not has("jax"), reason="jax is not installed")
needs_cuda = pytest.mark.skipif(not cuda_available(), reason="no CUDA device")
needs_cupy = pytest.mark.skipif(
    not (has("cupy") and cuda_available()), reason="CuPy with a CUDA device is not available"
)
