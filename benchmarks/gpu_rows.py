"""GPU rows for issue 6: CUDA-event medians, GB/s against the one-read floor, % of HBM.

Standalone (one device call): cross-entropy on torch CUDA (f32, bf16; fwd, fwd+bwd) vs
``F.cross_entropy``, on CuPy vs ``cupyx.scipy.special`` and torch CUDA, CuPy logsumexp,
BCE-with-logits 2^24, KL and entropy from logits (8192, 32768). Each call is bracketed by
CUDA events (median of 20 after 3 warm-ups); bandwidth is the one-read byte floor over
that time, also as a fraction of a measured device-to-device copy and of the HBM peak.
Peak extra memory from ``torch.cuda.max_memory_allocated``. Writes ``gpu_rows.md`` and
``gpu_rows.json`` to ``$OUT`` (default /tmp) and prints the table.
"""

# ruff: noqa: B023, E731  (closures are called inside the loop iteration that made them)
import json
import os
import statistics
import traceback

import numpy as np
import torch
import torch.nn.functional as F

import xloss
import xloss.special

OUT = os.environ.get("OUT", "/tmp")
res = {"device": torch.cuda.get_device_name(), "rows": [], "errors": []}


def ev(fn, rounds=20, sync=torch.cuda.synchronize):
    for _ in range(3):
        fn()
    sync()
    s = [torch.cuda.Event(enable_timing=True) for _ in range(rounds)]
    e = [torch.cuda.Event(enable_timing=True) for _ in range(rounds)]
    for a, b in zip(s, e, strict=True):
        a.record()
        fn()
        b.record()
    sync()
    return statistics.median(a.elapsed_time(b) for a, b in zip(s, e, strict=True)) / 1e3


def peak(fn):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


# copy bandwidth (read + write counted)
a = torch.empty(2**28, device="cuda")
b = torch.empty_like(a)
t = ev(lambda: b.copy_(a), rounds=10)
res["copy_gbps"] = 2 * a.numel() * 4 / t / 1e9
a = b = None


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


HBM = 3350.0 if "H100" in res["device"] else (4800.0 if "H200" in res["device"] else None)


def row(op, backend, dtype, mode, shape, impl, t, nbytes, mem=None):
    r = {
        "op": op,
        "backend": backend,
        "dtype": dtype,
        "mode": mode,
        "shape": "x".join(map(str, shape)),
        "impl": impl,
        "median_s": t,
        "gbps": nbytes / t / 1e9,
        "peak_mib": mem,
    }
    res["rows"].append(r)
    print(
        f"{op:14s} {backend:10s} {dtype:8s} {mode:7s} {r['shape']:>12s} {impl:22s} {t * 1e6:10.1f} us {r['gbps']:8.0f} GB/s"
        + (f" {mem:8.1f} MiB" if mem is not None else ""),
        flush=True,
    )


shapes = [(32, 10), (256, 1000), (4096, 1000), (2048, 32000), (8192, 32768), (8192, 128256)]
try:
    import cupy
    from cupyx.scipy import special as cs
except Exception as exc:
    cupy = None
    res["errors"].append(f"cupy import: {exc!r}")
for shape in shapes:
    n, c = shape
    rng = np.random.default_rng(0)
    x32 = torch.randn(shape, device="cuda") * 2
    y = torch.randint(0, c, (n,), device="cuda")
    for dt in (torch.float32, torch.bfloat16):
        x = x32.to(dt)
        dname = str(dt).split(".")[1]
        nb = n * c * x.element_size() + 8 * n
        for impl, f in (("xloss", xloss.cross_entropy), ("F.cross_entropy", F.cross_entropy)):
            try:
                row(
                    "cross_entropy",
                    "torch-cuda",
                    dname,
                    "fwd",
                    shape,
                    impl,
                    ev(lambda: f(x, y)),
                    nb,
                    peak(lambda: f(x, y)),
                )
                xg = x.clone().requires_grad_(True)

                def fb():
                    xg.grad = None
                    f(xg, y).backward()

                row(
                    "cross_entropy",
                    "torch-cuda",
                    dname,
                    "fwd+bwd",
                    shape,
                    impl,
                    ev(fb),
                    nb,
                    peak(fb),
                )
            except Exception:
                res["errors"].append(traceback.format_exc())
    if cupy is not None:
        try:
            xc = cupy.asarray(x32)
            yc = cupy.asarray(y)
            nb = n * c * 4 + 8 * n
            csync = cupy.cuda.Device().synchronize

            def comp():
                return -cupy.mean(cupy.take_along_axis(cs.log_softmax(xc, axis=1), yc[:, None], 1))

            for impl, f in (
                ("xloss", lambda: xloss.cross_entropy(xc, yc)),
                ("cupyx.scipy.special", comp),
                ("torch-cuda", lambda: F.cross_entropy(x32, y)),
            ):
                row("cross_entropy", "cupy", "float32", "fwd", shape, impl, ev(f, sync=csync), nb)
            for impl, f in (
                ("xloss", lambda: xloss.special.logsumexp(xc, axis=-1)),
                ("cupyx.scipy.special", lambda: cs.logsumexp(xc, axis=-1)),
                ("torch-cuda", lambda: torch.logsumexp(x32, -1)),
            ):
                row("logsumexp", "cupy", "float32", "fwd", shape, impl, ev(f, sync=csync), nb)
            v = float(xloss.cross_entropy(xc, yc))
            w = float(F.cross_entropy(x32, y))
            res.setdefault("cupy_vs_torch", []).append([shape, v, w])
        except Exception:
            res["errors"].append(traceback.format_exc())
    x32 = None
    torch.cuda.empty_cache()
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()

# BCE-with-logits 2^24, KL / entropy from logits (8192, 32768)
try:
    x = torch.randn(2**24, device="cuda")
    t_ = torch.rand(2**24, device="cuda")
    for impl, f in (
        ("xloss", xloss.binary_cross_entropy_with_logits),
        ("F.bce_with_logits", F.binary_cross_entropy_with_logits),
    ):
        row(
            "bce_with_logits",
            "torch-cuda",
            "float32",
            "fwd",
            (2**24,),
            impl,
            ev(lambda: f(x, t_)),
            8 * 2**24,
        )
    p = torch.randn(8192, 32768, device="cuda")
    q = torch.randn(8192, 32768, device="cuda")
    kl_ref = lambda: F.kl_div(
        q.log_softmax(-1), p.log_softmax(-1), reduction="none", log_target=True
    ).sum(-1)
    for impl, f in (
        ("xloss", lambda: xloss.info.kl_divergence(p, q, logits=True)),
        ("torch-composed", kl_ref),
    ):
        row(
            "kl(logits)",
            "torch-cuda",
            "float32",
            "fwd",
            (8192, 32768),
            impl,
            ev(f),
            2 * 8192 * 32768 * 4,
        )
    ent_ref = lambda: -(p.softmax(-1) * p.log_softmax(-1)).sum(-1)
    for impl, f in (
        ("xloss", lambda: xloss.info.entropy(p, logits=True)),
        ("torch-composed", ent_ref),
    ):
        row(
            "entropy(logits)",
            "torch-cuda",
            "float32",
            "fwd",
            (8192, 32768),
            impl,
            ev(f),
            8192 * 32768 * 4,
        )
except Exception:
    res["errors"].append(traceback.format_exc())

lines = [
    f"device {res['device']}; copy BW {res['copy_gbps']:.0f} GB/s (read+write); HBM peak {HBM}",
    "",
    "| op | backend | dtype | mode | shape | reference | xloss | reference | ratio | xloss GB/s | %copy BW | %HBM |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]
groups = {}
for r in res["rows"]:
    groups.setdefault((r["op"], r["backend"], r["dtype"], r["mode"], r["shape"]), {})[r["impl"]] = r
for k, g in groups.items():
    if "xloss" not in g:
        continue
    mine = g["xloss"]
    for name, ref in g.items():
        if name == "xloss":
            continue
        lines.append(
            f"| {' | '.join(k)} | {name} | {mine['median_s'] * 1e6:.1f} us | {ref['median_s'] * 1e6:.1f} us | "
            f"{mine['median_s'] / ref['median_s']:.2f} | {mine['gbps']:.0f} | {100 * mine['gbps'] / res['copy_gbps']:.0f}% | "
            + (f"{100 * mine['gbps'] / HBM:.0f}%" if HBM else "")
            + " |"
        )
md = "\n".join(lines)
print(md)
print("\n".join(res["errors"]))
_write(os.path.join(OUT, "gpu_rows.md"), md + "\n\nerrors:\n" + "\n".join(res["errors"]))
_write(os.path.join(OUT, "gpu_rows.json"), json.dumps(res, indent=1))
