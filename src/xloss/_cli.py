"""``xloss`` / ``python -m xloss``: the command line.

``xloss check`` runs the cross-backend consistency report: every public function on every
installed backend, device and dtype, against a float64 NumPy reference and the
frameworks' own functions. The table goes to stdout, the progress display to stderr; the
exit status is 1 when any comparison fails.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _split(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


class _Progress:
    """One rewritten line on a terminal; one line per function otherwise."""

    def __init__(self, stream: object, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.width = 0

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            text = message[:100]
            print("\r" + text.ljust(self.width), end="", file=self.stream, flush=True)  # type: ignore[call-overload]
            self.width = len(text)
        elif message.startswith("["):
            print(message, file=self.stream, flush=True)  # type: ignore[call-overload]

    def done(self) -> None:
        if self.enabled and self.tty and self.width:
            print("\r" + " " * self.width + "\r", end="", file=self.stream, flush=True)  # type: ignore[call-overload]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xloss", description="xloss: one set of loss definitions on every array library."
    )
    commands = parser.add_subparsers(dest="command")
    check = commands.add_parser(
        "check",
        help="cross-backend, cross-device consistency report",
        description=(
            "Run every public xloss function on every installed backend, device and dtype, "
            "compare with a float64 NumPy reference and the frameworks' own functions, and "
            "print the largest errors in units of each dtype's eps. Exits 1 on any FAIL."
        ),
    )
    check.add_argument(
        "--backends",
        action="append",
        metavar="NAMES",
        help="comma-separated libraries or backend names/globs "
        "(numpy, array_api_strict, torch, torch:cuda, jax, dask, cupy)",
    )
    check.add_argument(
        "--functions",
        action="append",
        metavar="NAMES",
        help="comma-separated function names or globs "
        "(cross_entropy, 'special.*', 'info.*', 'metrics.*')",
    )
    check.add_argument(
        "--dtypes",
        action="append",
        metavar="NAMES",
        help="comma-separated dtypes (float64, float32, float16, bfloat16)",
    )
    check.add_argument(
        "--quick", action="store_true", help="one sample per function: a smoke test in seconds"
    )
    check.add_argument("--json", metavar="PATH", help="write the full results as JSON")
    check.add_argument(
        "--cases",
        action="append",
        metavar="MODULE",
        help="import MODULE first (it may register extra check cases)",
    )
    check.add_argument(
        "--jobs",
        type=int,
        default=2 if (os.cpu_count() or 1) >= 2 else 1,
        metavar="N",
        help="run JAX in a second process when N > 1 (default: 2 on a multi-core machine)",
    )
    check.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    return parser


def _check(args: argparse.Namespace) -> int:
    from . import _check

    for module in _split(args.cases) or []:
        importlib.import_module(module)
    libraries = None
    wanted = _split(args.backends)
    if wanted:
        libraries = {w.split(":")[0] for w in wanted}
        unknown = libraries - set(_check._backends.LIBRARIES)
        if unknown:
            print(f"xloss check: unknown backend(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
    if (libraries is None or "jax" in libraries) and importlib.util.find_spec("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]  # float64 is part of the report
    progress = _Progress(sys.stderr, not args.quiet)
    discovered = _check.discover(libraries)
    if wanted and not _check._runner._select_backends(discovered[0], wanted):
        print(
            f"xloss check: none of the requested backends is available: {', '.join(wanted)}",
            file=sys.stderr,
        )
        for m in discovered[1]:
            print(f"  {m.name}: {m.reason}  {m.hint}".rstrip(), file=sys.stderr)
        return 2
    report = _check.run(
        functions=_split(args.functions),
        backends=wanted,
        dtypes=_split(args.dtypes),
        quick=args.quick,
        progress=progress,
        discovered=discovered,
        jobs=args.jobs,
        case_modules=_split(args.cases) or [],
    )
    progress.done()
    print(_check.format_report(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_json(), f, indent=1, default=str, allow_nan=True)
            f.write("\n")
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xloss`` console script and ``python -m xloss``."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
