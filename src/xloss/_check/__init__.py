"""The cross-backend consistency report behind ``python -m xloss check`` (private).

``_spec`` defines a check case and the tolerances, ``_cases`` holds the case of every
public function, ``_backends`` discovers libraries and devices, ``_runner`` measures and
``_table`` prints. Tests and plugins add cases with :func:`register`.
"""

from __future__ import annotations

from ._backends import BackendInfo, Missing, discover, to_numpy
from ._runner import Report, Result, compare, compare_function, public_functions, run
from ._spec import CASES, TOLERANCE_EPS, CheckCase, NotComparable, Sample, register
from ._table import format_report, format_table

__all__ = [
    "CASES",
    "TOLERANCE_EPS",
    "BackendInfo",
    "CheckCase",
    "Missing",
    "NotComparable",
    "Report",
    "Result",
    "Sample",
    "compare",
    "compare_function",
    "discover",
    "format_report",
    "format_table",
    "public_functions",
    "register",
    "run",
    "to_numpy",
]
