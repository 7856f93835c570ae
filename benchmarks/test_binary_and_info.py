"""BCE-with-logits, KL divergence and entropy from logits: xloss vs native torch."""

from __future__ import annotations

import numpy as np
import pytest

import xloss
from conftest import needs_torch


@needs_torch
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "fwd+bwd"])
@pytest.mark.parametrize("impl", ["xloss", "torch"])
def test_bce_with_logits(benchmark, impl, backward):
    import torch
    import torch.nn.functional as F

    benchmark.group = f"bce_with_logits {'fwd+bwd' if backward else 'fwd'} torch-cpu f32"
    rng = np.random.default_rng(0)
    x = torch.asarray(rng.standard_normal(2**20, dtype=np.float32)).requires_grad_(backward)
    t = torch.asarray(rng.random(2**20, dtype=np.float32))
    fn = {
        "xloss": xloss.binary_cross_entropy_with_logits,
        "torch": F.binary_cross_entropy_with_logits,
    }[impl]

    def run():
        loss = fn(x, t)
        if backward:
            loss.backward()
            x.grad = None
        return loss

    benchmark.extra_info.update(impl=impl, backend="torch-cpu", dtype="float32", shape="2^20")
    benchmark(run)


def _logits(shape=(1024, 32000), seed=0):
    import torch

    rng = np.random.default_rng(seed)
    return torch.asarray(rng.standard_normal(shape, dtype=np.float32) * 2)


@needs_torch
@pytest.mark.parametrize("impl", ["xloss", "torch"])
def test_kl_from_logits(benchmark, impl):
    import torch.nn.functional as F

    benchmark.group = "kl_divergence(logits) fwd torch-cpu f32"
    p, q = _logits(seed=1), _logits(seed=2)

    def native(p, q):
        return F.kl_div(
            q.log_softmax(-1), p.log_softmax(-1), reduction="none", log_target=True
        ).sum(-1)

    fn = (lambda p, q: xloss.info.kl_divergence(p, q, logits=True)) if impl == "xloss" else native
    benchmark.extra_info.update(impl=impl, backend="torch-cpu", dtype="float32", shape="1024x32000")
    benchmark(fn, p, q)


@needs_torch
@pytest.mark.parametrize("impl", ["xloss", "torch"])
def test_entropy_from_logits(benchmark, impl):
    benchmark.group = "entropy(logits) fwd torch-cpu f32"
    p = _logits(seed=3)

    def native(x):
        log_p = x.log_softmax(-1)
        return -(log_p.exp() * log_p).sum(-1)

    fn = (lambda x: xloss.info.entropy(x, logits=True)) if impl == "xloss" else native
    benchmark.extra_info.update(impl=impl, backend="torch-cpu", dtype="float32", shape="1024x32000")
    benchmark(fn, p)
