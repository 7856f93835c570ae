"""Turn a pytest-benchmark JSON file into the ratio table (markdown) and a PNG chart.

Usage: ``python benchmarks/report.py benchmarks/results/latest.json [--out DIR]
[--glibc benchmarks/results/glibc-default.json] [--docs DIR]``

Every benchmark group is one case (op | backend | dtype | mode | shape) holding one
``xloss`` row and one row per reference. For each reference the table gives
``xloss median / reference median`` (below 1: xloss is faster), the target the issue sets
for that comparison where it sets one, whether it is met, the peak extra memory of one
call and, on a GPU, the bandwidth reached against the one-read floor (GPU rows use the
median of CUDA-event timings, CPU rows pytest-benchmark's wall-clock median). The table
is printed and written to ``report.md`` next to the JSON, the chart to ``ratios.png``.
With ``--docs DIR`` (``nox -s benchmarks`` passes ``docs/_generated``) the table is also
written as ``benchmarks.md`` for the performance page, with the date, the machine and the
library versions, and the chart as ``benchmarks.png``. ``nox -s benchmarks`` runs the
suite with freed memory kept in the process (``RETAINED_MEMORY`` in noxfile.py) and again
under glibc's default malloc; ``--glibc`` adds the second run's ratios as extra columns.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import shutil
from pathlib import Path
from typing import Any

# H100 SXM5 HBM3 peak, for the fraction of bandwidth reached (PCIe parts are slower).
HBM_PEAK_GBPS = {"H100": 3350.0, "H200": 4800.0, "A100": 2039.0}


_ALIASES = {
    # reference names as the benchmark files spell them -> one canonical name
    "torch": "torch",
    "F.cross_entropy": "torch",
    "torch-cuda": "torch",
    "scipy": "scipy",
    "scipy.log_softmax": "scipy",
    "sklearn": "sklearn",
    "sklearn.log_loss": "sklearn",
    "torch-1-thread": "torch-1-thread",
    "torch-1thread": "torch-1-thread",
    "jax": "jax",
    "jax.nn": "jax",
}


def target(row: dict[str, Any], reference: str) -> float | None:
    """The largest ratio the issue accepts for this comparison, or None."""
    op, backend, dtype, mode, shape = (row[k] for k in ("op", "backend", "dtype", "mode", "shape"))
    ref = _ALIASES.get(reference, reference)
    if op == "cross_entropy":
        if backend == "torch-cpu" and ref == "torch" and dtype == "float32":
            if shape in ("4096x1000", "2048x32000"):
                return 1.05 if mode == "fwd" else 1.10
            if shape == "32x10":
                return 1.3
        if backend == "numpy" and shape == "4096x1000":
            if ref in ("scipy", "sklearn"):
                return 1 / 1.5
            if ref == "torch-1-thread":
                return 2.0
        if backend.startswith("jax") and ref == "jax":
            return 1.05
        if backend == "torch-cuda" and ref == "torch":
            return 1.05
        if backend == "cupy" and ref == "torch":
            return 1.3
    if (
        backend.startswith("torch")
        and ref == "torch"
        and (op.startswith(("bce", "binary_cross_entropy_with_logits", "kl", "entropy")))
    ):
        return 1.0  # "no slower than the native torch composition"
    return None


_DTYPES = {"f32": "float32", "f64": "float64", "bf16": "bfloat16", "f16": "float16"}


def _describe(bench: dict[str, Any]) -> dict[str, Any]:
    """op, backend, dtype, mode, shape and case key of one benchmark.

    Taken from ``extra_info`` where the benchmark recorded them, else read from a group
    named ``"<op> <mode> <backend> <dtype>"`` and a ``shape`` parameter.
    """
    info = bench.get("extra_info", {})
    params = {k: v for k, v in (bench.get("params") or {}).items() if k != "impl"}
    words = (bench.get("group") or "").split()
    guess = {
        "op": words[0] if words else bench["name"],
        "mode": words[1] if len(words) > 1 else "fwd",
        "backend": words[2] if len(words) > 2 else info.get("backend", ""),
        "dtype": _DTYPES.get(words[3], words[3]) if len(words) > 3 else info.get("dtype", ""),
    }
    shape = params.get("shape")
    guess["shape"] = "x".join(str(n) for n in shape) if isinstance(shape, list) else ""
    out = {k: info.get(k, guess[k]) for k in ("op", "backend", "dtype", "mode", "shape")}
    if out["dtype"] in _DTYPES:
        out["dtype"] = _DTYPES[out["dtype"]]
    out["case"] = info.get("case") or (
        f"{bench.get('group')} | " + ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    )
    if "peak_bytes" in info:
        out["peak"] = info["peak_bytes"]
    elif "peak_mib" in info:
        out["peak"] = info["peak_mib"] * 2**20
    else:
        out["peak"] = None
    # memory the backward needs: torch's saved tensors beyond the inputs, XLA's temporaries
    out["bwd"] = info.get("saved_bytes", info.get("temp_bytes"))
    if info.get("gbps"):
        out["gbps"] = info["gbps"]
    elif info.get("bytes"):
        out["gbps"] = info["bytes"] / _median(bench) / 1e9
    else:
        out["gbps"] = None
    return out


def _median(bench: dict[str, Any]) -> float:
    info = bench.get("extra_info", {})
    return float(info.get("event_median_s") or bench["stats"]["median"])


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _mib(n: Any) -> str:
    return "" if n is None else f"{n / 2**20:.1f}"


def rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (case, reference): the two medians, the ratio and the target."""
    cases: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {}
    for bench in data["benchmarks"]:
        impl = bench.get("extra_info", {}).get("impl") or (bench.get("params") or {}).get("impl")
        if impl is None:
            continue
        described = _describe(bench)
        cases.setdefault(described["case"], {})[impl] = (bench, described)
    out = []
    for impls in cases.values():
        if "xloss" not in impls:
            continue
        mine, info = impls["xloss"]
        for name, (ref, ref_info) in impls.items():
            if name == "xloss":
                continue
            ratio = _median(mine) / _median(ref)
            limit = target(info, name)
            out.append(
                {
                    **{k: info[k] for k in ("op", "backend", "dtype", "mode", "shape")},
                    "reference": name,
                    "xloss_s": _median(mine),
                    "reference_s": _median(ref),
                    "ratio": ratio,
                    "target": limit,
                    "met": None if limit is None else ratio <= limit,
                    "xloss_peak": info["peak"],
                    "reference_peak": ref_info["peak"],
                    "xloss_bwd": info["bwd"],
                    "reference_bwd": ref_info["bwd"],
                    "xloss_gbps": info["gbps"],
                    "reference_gbps": ref_info["gbps"],
                }
            )
    return out


def _key(r: dict[str, Any]) -> tuple[str, ...]:
    return tuple(r[k] for k in ("op", "backend", "dtype", "mode", "shape", "reference"))


def join_glibc(table: list[dict[str, Any]], glibc: list[dict[str, Any]]) -> None:
    """Add the ratio and verdict measured under glibc's default malloc to the matching rows."""
    by_key = {_key(r): r for r in glibc}
    for r in table:
        other = by_key.get(_key(r))
        r["glibc_ratio"] = None if other is None else other["ratio"]
        r["glibc_met"] = None if other is None else other["met"]


def _verdict(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def markdown(table: list[dict[str, Any]], machine: str, peak_gbps: float | None) -> str:
    both = any("glibc_ratio" in r for r in table)
    second = "| ratio, glibc default | met, glibc default " if both else ""
    lines = [
        f"Machine: {machine}",
        "",
        "ratio = xloss median / reference median (< 1: xloss faster). "
        "Backward MiB: what torch autograd keeps for the backward beyond the inputs "
        "(jax-jit rows: XLA's temporary bytes of the jitted gradient). "
        "GPU rows: CUDA-event medians; GB/s against the one-read floor"
        + (f", % of {peak_gbps:.0f} GB/s HBM peak." if peak_gbps else "."),
        "",
        "| op | backend | dtype | mode | shape | reference | xloss | reference | ratio "
        "| target | met " + second + "| peak MiB (xloss / ref) | backward MiB (xloss / ref) "
        "| GB/s (xloss / ref) |",
        "|---" * (16 if both else 14) + "|",
    ]
    if both:
        lines[2:2] = [
            "Timings, peaks and the first ratio: freed memory kept in the process "
            "(MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised, as jemalloc or tcmalloc "
            "behave), so the kernels are compared. 'glibc default': the same suite under "
            "glibc's default malloc, which returns large freed blocks to the kernel, so fresh "
            "N x C temporaries page-fault: always above 32 MiB (there the column is what most "
            "processes pay), and below it depending on the process's history (there the "
            "column swings up to 2.5x between runs).",
            "",
        ]
    for r in table:
        met = _verdict(r["met"])
        if both:
            ratio2 = r.get("glibc_ratio")
            met += f" | {'' if ratio2 is None else f'{ratio2:.2f}'} | "
            met += _verdict(r.get("glibc_met"))
        tgt = "" if r["target"] is None else f"<= {r['target']:.2f}"
        peak = ""
        if r["xloss_peak"] is not None or r["reference_peak"] is not None:
            peak = f"{_mib(r['xloss_peak'])} / {_mib(r['reference_peak'])}"
        bwd = ""
        if r["xloss_bwd"] is not None or r["reference_bwd"] is not None:
            bwd = f"{_mib(r['xloss_bwd'])} / {_mib(r['reference_bwd'])}"
        gbps = ""
        if r["xloss_gbps"]:
            gbps = f"{r['xloss_gbps']:.0f} / {r['reference_gbps'] or 0:.0f}"
            if peak_gbps:
                gbps += f" ({100 * r['xloss_gbps'] / peak_gbps:.0f}%)"
        lines.append(
            f"| {r['op']} | {r['backend']} | {r['dtype']} | {r['mode']} | {r['shape']} "
            f"| {r['reference']} | {_time(r['xloss_s'])} | {_time(r['reference_s'])} "
            f"| {r['ratio']:.2f} | {tgt} | {met} | {peak} | {bwd} | {gbps} |"
        )
    with_target = [r for r in table if r["met"] is not None]
    if with_target:
        summary = f"Targets met: {sum(r['met'] for r in with_target)} of {len(with_target)}"
        if both:
            glibc = [r for r in with_target if r.get("glibc_met") is not None]
            summary += (
                f" (memory retained); {sum(r['glibc_met'] for r in glibc)} of "
                f"{len(glibc)} (glibc default)"
            )
        lines += ["", summary + "."]
    return "\n".join(lines) + "\n"


def chart(table: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not table:
        return False
    labels = [
        f"{r['op']} {r['backend']} {r['dtype']} {r['mode']} {r['shape']} vs {r['reference']}"
        for r in table
    ]
    ratios = [r["ratio"] for r in table]
    colors = [
        "tab:gray" if r["met"] is None else ("tab:green" if r["met"] else "tab:red") for r in table
    ]
    fig, ax = plt.subplots(figsize=(11, 0.22 * len(table) + 1.5))
    ax.barh(range(len(table)), ratios, color=colors)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yticks(range(len(table)), labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("xloss median / reference median (log scale; < 1 is faster)")
    ax.set_title("xloss vs native references (green: target met, red: missed, gray: no target)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _size(shape: str) -> int:
    try:
        return math.prod(int(n) for n in shape.split("x"))
    except ValueError:
        return 0


_LIBRARIES = ("xloss", "numpy", "scipy", "scikit-learn", "torch", "jax", "cupy")


def versions() -> str:
    """The installed versions of the libraries the benchmarks compare."""
    found = []
    for name in _LIBRARIES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def docs_page(text: str, data: dict[str, Any], has_chart: bool) -> str:
    """The MyST include for docs/guide/performance.rst: provenance, table and chart."""
    when = data.get("datetime", "")[:10] or datetime.date.today().isoformat()
    lines = [
        f"*Measured {when} with* `nox -s benchmarks` *({versions()}). Medians of few rounds "
        "on a shared 2-core machine, each side timed at a different moment: ratios move by "
        "several percent between runs, and by 20% or more where the machine's load changed "
        "during one side (the small shapes most). `benchmarks/interleaved.py` alternates the "
        "two sides round by round and gives the steadier A/B numbers this page quotes.*",
        "",
        text,
    ]
    if has_chart:
        lines += ["", "![xloss / reference ratios](/_generated/benchmarks.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="folder (default: the JSON's)")
    parser.add_argument(
        "--docs", type=Path, default=None, help="also write benchmarks.md/.png into this folder"
    )
    parser.add_argument(
        "--glibc",
        type=Path,
        default=None,
        help="the same suite's JSON under glibc's default malloc: extra ratio columns",
    )
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text())
    out_dir = args.out or args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    machine_info = data.get("machine_info", {})
    machine = (
        f"{machine_info.get('cpu', {}).get('brand_raw', '?')}, "
        f"{machine_info.get('cpu', {}).get('count', '?')} cores"
    )
    gpu = data.get("gpu") or ""
    peak = next((v for k, v in HBM_PEAK_GBPS.items() if k in gpu), None)
    table = rows(data)
    table.sort(
        key=lambda r: (
            r["op"],
            r["backend"],
            r["dtype"],
            r["mode"],
            _size(r["shape"]),
            r["reference"],
        )
    )
    if args.glibc is not None:
        join_glibc(table, rows(json.loads(args.glibc.read_text())))
    text = markdown(table, machine + (f"; GPU {gpu}" if gpu else ""), peak)
    (out_dir / "report.md").write_text(text)
    print(text)
    has_chart = chart(table, out_dir / "ratios.png")
    if has_chart:
        print(f"chart: {out_dir / 'ratios.png'}")
    if args.docs is not None:
        args.docs.mkdir(parents=True, exist_ok=True)
        if has_chart:
            shutil.copyfile(out_dir / "ratios.png", args.docs / "benchmarks.png")
        (args.docs / "benchmarks.md").write_text(docs_page(text, data, has_chart))
        print(f"docs: {args.docs / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
