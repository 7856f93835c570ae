"""The printed report: one row per function, one column per backend x dtype."""

from __future__ import annotations

import math
from collections import defaultdict

from ._runner import GRADIENT, REFERENCE, Report, Result, summary_counts
from ._spec import TOLERANCE_EPS

__all__ = ["format_report", "format_table"]

_SHORT_DTYPE = {"float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16"}
_SHORT_BACKEND = {
    "array_api_strict": "strict",
    "array_api_strict:device1": "strict:device1",
    "array_api_strict:no_float64": "strict:no_f64",
    "torch:cpu": "torch",
    "jax:cpu": "jax",
}
_ORDER = {"FAIL": 3, "MISSING": 2, "PASS": 1, "SKIP": 0}


def _cell(results: list[Result]) -> str:
    if not results:
        return ""
    failed = [r for r in results if r.status == "FAIL"]
    measured = [r.error for r in results if r.error is not None and r.status != "SKIP"]
    if failed:
        errors = [r.error for r in failed if r.error is not None]
        if not errors:
            return "ERR!"
        return _number(max(errors)) + "!"
    if not measured:
        return "-"
    return _number(max(measured))


def _number(value: float) -> str:
    if math.isinf(value):
        return "inf"
    if math.isnan(value):
        return "nan"
    if value < 0.05:
        return "0"
    if value < 9.95:
        return f"{value:.1f}"
    if value < 9999.5:
        return f"{value:.0f}"
    return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")


def format_table(report: Report) -> str:
    """The function x (backend, dtype) table of largest errors in units of eps."""
    columns: list[tuple[str, str]] = []
    if any(r.backend == REFERENCE for r in report.results):
        columns.append((REFERENCE, "float64"))
    columns += report.columns()
    if any(r.backend == GRADIENT for r in report.results):
        columns.append((GRADIENT, "float64"))
    cells: dict[tuple[str, str, str], list[Result]] = defaultdict(list)
    status: dict[str, str] = {}
    notes: dict[str, str] = {}
    for r in report.results:
        cells[r.function, r.backend, r.dtype].append(r)
        if _ORDER[r.status] > _ORDER.get(status.get(r.function, "SKIP"), 0) or (
            r.function not in status
        ):
            status[r.function] = r.status
        if r.backend == "-" and r.message:
            notes[r.function] = r.message
    functions = list(dict.fromkeys([*report.functions, *(r.function for r in report.results)]))
    name_width = max([len("function"), *(len(f) for f in functions)])
    labels = [
        (
            "ref" if b == REFERENCE else "grad" if b == GRADIENT else _SHORT_BACKEND.get(b, b),
            "torch~jax" if b == GRADIENT else _SHORT_DTYPE[d],
        )
        for b, d in columns
    ]
    body = [[_cell(cells[f, b, d]) for b, d in columns] for f in functions]
    widths = [max(5, len(dl), *(len(row[i]) for row in body)) for i, (_, dl) in enumerate(labels)]
    # a backend's name spans its dtype columns; widen the last one if the name is longer
    groups: list[list[int]] = []
    for i, (bl, _) in enumerate(labels):
        if groups and labels[groups[-1][0]][0] == bl:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        span = sum(widths[i] for i in group) + 2 * (len(group) - 1)
        need = len(labels[group[0]][0])
        if need > span:
            widths[group[-1]] += need - span
    line1 = " " * name_width
    for group in groups:
        span = sum(widths[i] for i in group) + 2 * (len(group) - 1)
        line1 += "  " + labels[group[0]][0].ljust(span)
    line2 = "function".ljust(name_width) + "".join(
        "  " + dl.rjust(widths[i]) for i, (_, dl) in enumerate(labels)
    )
    lines = [line1.rstrip() + "", line2 + "  status", "-" * (len(line2) + 8)]
    for f, row in zip(functions, body, strict=False):
        text = f.ljust(name_width) + "".join(
            "  " + c.rjust(w) for c, w in zip(row, widths, strict=False)
        )
        st = status.get(f, "")
        if f in notes and st != "PASS":
            st = f"{st} ({notes[f]})"
        lines.append(f"{text}  {st}")
    return "\n".join(lines)


def format_report(report: Report, max_failures: int = 40) -> str:
    """The table, the legend, the failures, the missing backends and the summary line."""
    tol = ", ".join(f"{d} {t:g}" for d, t in TOLERANCE_EPS.items())
    parts = [
        format_table(report),
        "",
        "Cells: the largest error over every sample and option set, in units of the dtype's eps,",
        "relative to max(|reference|, scale); the reference is xloss on NumPy float64 applied "
        "to the",
        "same inputs rounded to the dtype. 'ref' holds xloss (NumPy, float64) against the "
        "framework's own",
        "function; 'grad' torch's gradient against JAX's. '!' marks a FAIL; '-' skipped. "
        f"Default tolerances (eps): {tol}.",
    ]
    failed = report.failed
    if failed:
        parts += ["", f"FAILURES ({len(failed)}):"]
        for r in failed[:max_failures]:
            err = "" if r.error is None else f" error {_number(r.error)} eps (tol {r.tolerance:g})"
            where = "" if r.backend == "-" else f" [{r.backend} {r.dtype}]"
            parts.append(f"  {r.function}: {r.sample}{where}{err}: {r.message}")
        if len(failed) > max_failures:
            parts.append(f"  ... and {len(failed) - max_failures} more (see --json)")
    absent = sorted(
        {
            r.message.rsplit(": ", 1)[-1].removesuffix(" not installed")
            for r in report.results
            if r.backend == REFERENCE and r.status == "SKIP" and r.message.endswith("not installed")
        }
    )
    if absent:
        parts += [
            "",
            f"Framework references not run ({', '.join(absent)} not installed): "
            'pip install "xloss[test]" torch torchmetrics',
        ]
    if report.missing:
        parts += ["", "Not found:"]
        for m in report.missing:
            hint = f"  ->  {m.hint}" if m.hint else ""
            parts.append(f"  {m.name}: {m.reason}{hint}")
    counts = summary_counts(report)
    names = ", ".join(b.name for b in report.backends)
    verdict = "FAIL" if failed else "PASS"
    parts += [
        "",
        f"xloss check: {verdict}: {len(report.functions)} functions on {len(report.backends)} "
        f"backends ({names}); {counts['PASS']} passed, {counts['FAIL']} failed, "
        f"{counts['SKIP']} skipped, {counts['MISSING']} missing; {report.seconds:.1f} s",
    ]
    return "\n".join(parts)
