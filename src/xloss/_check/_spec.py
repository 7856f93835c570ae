"""What a check case is, the registry of cases, and the documented tolerances."""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CASES",
    "TOLERANCE_EPS",
    "CheckCase",
    "NotComparable",
    "Sample",
    "register",
    "resolve_function",
]

# Largest accepted error in units of the result dtype's machine epsilon, measured as
# |result - reference| / (eps * max(|reference|, scale)); the reference is xloss on NumPy in
# float64 applied to the same inputs rounded to the dtype under test, so only the
# computation is measured, not the rounding of the inputs. float16 and bfloat16 compute in
# float32 and round once, hence a couple of their (large) eps.
TOLERANCE_EPS = {"float64": 64.0, "float32": 64.0, "float16": 2.0, "bfloat16": 2.0}

EPS = {
    "float64": float(np.finfo(np.float64).eps),
    "float32": float(np.finfo(np.float32).eps),
    "float16": float(np.finfo(np.float16).eps),
    "bfloat16": 2.0**-7,
}


class NotComparable(Exception):
    """Raised by a framework reference for an option set it has no equivalent of."""


@dataclass
class Sample:
    """One call: seeded arguments (NumPy; floating ones are cast to the dtype under test)."""

    label: str
    args: tuple[Any, ...]
    options: dict[str, Any] = field(default_factory=dict)
    #: the error floor: errors are relative to max(|reference|, scale)
    scale: float = 1.0
    #: compare with the framework reference too (False where the framework is known wrong)
    reference: bool = True
    #: the dtypes this sample runs in (None: every dtype of every backend)
    dtypes: tuple[str, ...] | None = None
    #: arguments (by position) left in float64 NumPy form (e.g. ``labels``) are never cast;
    #: floating arrays at other positions take the dtype under test
    keep: tuple[int, ...] = ()
    #: the precision the framework reference computes in (its error is measured in its eps)
    reference_dtype: str = "float64"

    def describe(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items()) if self.options else ""
        return f"{self.label}({opts})" if opts else self.label


@dataclass
class CheckCase:
    """The consistency check of one public function.

    Attributes
    ----------
    function
        Its public name: ``"cross_entropy"``, ``"special.logsumexp"``, ``"info.entropy"``,
        ``"metrics.log_loss"``.
    samples
        ``samples(rng)`` returns the calls to make; the first is what ``--quick`` runs.
    reference
        ``reference(*args, **options)`` on float64 NumPy arguments returns the framework's
        own value (``torch.nn.functional``, ``scipy``, ``sklearn``, a written-out formula);
        ``None`` when there is none. Raises ``ImportError`` when the framework is absent
        and :class:`NotComparable` for options it has no equivalent of.
    reference_name
        What ``reference`` is, for the report.
    grad
        Compare ``d sum(f) / d args[0]`` between torch and JAX (float64).
    fn
        The function itself, for cases of functions outside xloss (tests register
        deliberately broken ones); by default it is looked up from ``function``.
    tolerance
        Per-dtype overrides of :data:`TOLERANCE_EPS`.
    """

    function: str
    samples: Callable[[np.random.Generator], list[Sample]]
    reference: Callable[..., Any] | None = None
    reference_name: str = ""
    grad: bool = False
    fn: Callable[..., Any] | None = None
    tolerance: dict[str, float] = field(default_factory=dict)

    def rng(self) -> np.random.Generator:
        """The case's own seeded generator (stable whatever else is selected)."""
        return np.random.default_rng(zlib.crc32(self.function.encode()))

    def tol(self, dtype: str) -> float:
        return self.tolerance.get(dtype, TOLERANCE_EPS[dtype])


CASES: dict[str, CheckCase] = {}


def register(case: CheckCase) -> CheckCase:
    """Add (or replace) the check case of ``case.function``."""
    CASES[case.function] = case
    return case


def resolve_function(case: CheckCase) -> Callable[..., Any] | None:
    """The callable a case checks, or ``None`` when xloss does not (yet) have it."""
    if case.fn is not None:
        return case.fn
    module_name, _, name = case.function.rpartition(".")
    try:
        module = importlib.import_module("xloss" + ("." + module_name if module_name else ""))
    except ImportError:
        return None
    if name not in getattr(module, "__all__", ()):
        return None
    return getattr(module, name, None)
