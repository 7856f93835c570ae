"""Run the check cases on every backend x device x dtype and measure the errors."""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._backends import BackendInfo, Missing, discover, to_numpy
from ._spec import CASES, EPS, CheckCase, NotComparable, Sample, resolve_function

__all__ = ["Report", "Result", "compare", "compare_function", "public_functions", "run"]

#: the modules whose ``__all__`` every public function is collected from
PUBLIC_MODULES = (
    "xloss",
    "xloss.special",
    "xloss.info",
    "xloss.metrics",
    "xloss.grad",
    "xloss.grad.info",
)

REFERENCE = "reference"
LOW_PRECISION = ("float16", "bfloat16")
QUICK_DTYPES = ("float32",)
#: float16/bfloat16 run each function's first samples only (and those naming them)
LOW_PRECISION_SAMPLES = 2
GRADIENT = "grad torch~jax"


@dataclass
class Result:
    """One measured comparison (a row of ``--json``'s ``results``)."""

    function: str
    sample: str
    backend: str
    dtype: str
    status: str  # PASS, FAIL, SKIP or MISSING
    error: float | None = None  # in units of eps of dtype
    tolerance: float | None = None
    message: str = ""


@dataclass
class Report:
    """Everything one run found."""

    results: list[Result] = field(default_factory=list)
    backends: list[BackendInfo] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        from ._table import format_report

        return format_report(self)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status == "FAIL"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def columns(self) -> list[tuple[str, str]]:
        """(backend, dtype) pairs in report order."""
        seen: dict[tuple[str, str], None] = {}
        order = {b.name: i for i, b in enumerate(self.backends)}
        dtype_order = ("float64", "float32", "float16", "bfloat16")
        for r in sorted(
            (r for r in self.results if r.backend in order),
            key=lambda r: (order[r.backend], dtype_order.index(r.dtype)),
        ):
            seen[r.backend, r.dtype] = None
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        from ._spec import TOLERANCE_EPS

        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "backends": [
                {
                    "name": b.name,
                    "library": b.library,
                    "device": str(b.device),
                    "dtypes": list(b.dtypes),
                }
                for b in self.backends
            ],
            "missing": [asdict(m) for m in self.missing],
            "tolerance_eps": TOLERANCE_EPS,
            "error_definition": "max |result - reference| / (eps(dtype) * max(|reference|, scale))",
            "functions": self.functions,
            "results": [_jsonable(asdict(r)) for r in self.results],
            "summary": summary_counts(self),
        }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Infinite or NaN errors as the strings "inf"/"nan" (JSON has no such numbers)."""
    error = row.get("error")
    if isinstance(error, float) and not np.isfinite(error):
        row["error"] = str(error)
    return row


def summary_counts(report: Report) -> dict[str, int]:
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0, "MISSING": 0}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


# -- coverage ----------------------------------------------------------------------------


def public_functions() -> tuple[list[str], list[str]]:
    """Every public function's check name, and the public modules that could not load.

    Functions come from ``__all__`` of :data:`PUBLIC_MODULES` (classes, such as the
    metric accumulators, and submodules are not functions and are left out).
    """
    names: list[str] = []
    broken: list[str] = []
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            broken.append(f"{module_name}: {type(exc).__name__}: {exc}")
            continue
        prefix = module_name.removeprefix("xloss").removeprefix(".")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj) or inspect.isclass(obj):
                continue
            if not callable(obj):
                continue
            names.append(f"{prefix}.{name}" if prefix else name)
    return names, broken


def _select(names: Iterable[str], patterns: Sequence[str] | None) -> list[str]:
    if not patterns:
        return list(names)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _select_backends(found: list[BackendInfo], wanted: Sequence[str] | None) -> list[BackendInfo]:
    if not wanted:
        return found
    return [
        b
        for b in found
        if b.name in wanted
        or b.library in wanted
        or any(fnmatch.fnmatchcase(b.name, w) for w in wanted)
    ]


# -- comparison --------------------------------------------------------------------------


def compare(
    actual: np.ndarray, expected: np.ndarray, dtype: str, scale: float = 1.0
) -> tuple[float, str]:
    """The largest error in units of ``dtype``'s eps, and a description of the worst entry.

    NaN must meet NaN and infinities must meet equal infinities; otherwise the error is
    infinite.
    """
    eps = EPS[dtype]
    a = np.asarray(actual, dtype=np.float64)
    # the best a dtype can hold is the reference rounded to it (inf where it overflows)
    e = _quantise(np.asarray(expected, dtype=np.float64), dtype)
    if a.shape != e.shape:
        return np.inf, f"shape {a.shape} != reference shape {e.shape}"
    if a.size == 0:
        return 0.0, ""
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if np.any(nan_a != nan_e):
        i = np.unravel_index(np.argmax(nan_a != nan_e), a.shape)
        return (
            np.inf,
            f"at {tuple(map(int, i))}: {a[i].item()!r} where the reference is {e[i].item()!r}",
        )
    inf_e = np.isinf(e) | np.isinf(a)
    mismatch = inf_e & ~nan_e & (a != e)
    if np.any(mismatch):
        i = np.unravel_index(np.argmax(mismatch), a.shape)
        return (
            np.inf,
            f"at {tuple(map(int, i))}: {a[i].item()!r} where the reference is {e[i].item()!r}",
        )
    finite = ~(nan_e | inf_e)
    if not np.any(finite):
        return 0.0, ""
    with np.errstate(all="ignore"):
        err = np.where(finite, np.abs(a - e) / (eps * np.maximum(np.abs(e), scale)), 0.0)
    i = np.unravel_index(np.argmax(err), a.shape)
    return float(err[i]), f"worst at {tuple(map(int, i))}: {a[i].item()!r} vs {e[i].item()!r}"


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def _quantise(a: np.ndarray, dtype: str) -> np.ndarray:
    """``a`` rounded to ``dtype`` and held in float64."""
    if dtype == "float64":
        return a if a.dtype == np.float64 else a.astype(np.float64)
    if dtype == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:  # torch without JAX: torch rounds to bfloat16 the same way
            import torch

            t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
            return t.to(torch.bfloat16).double().numpy()
        return a.astype(ml_dtypes.bfloat16).astype(np.float64)
    with np.errstate(over="ignore"):
        return a.astype(dtype).astype(np.float64)


def _is_float(a: Any) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _prepare(sample: Sample, dtype: str) -> tuple[list[Any], dict[str, Any]]:
    """The sample's arguments with floating data rounded to ``dtype`` (NumPy float64)."""
    args = [
        _quantise(a, dtype) if _is_float(a) and i not in sample.keep else a
        for i, a in enumerate(sample.args)
    ]
    options = {k: _quantise(v, dtype) if _is_float(v) else v for k, v in sample.options.items()}
    return args, options


def _on_backend(value: Any, backend: BackendInfo, dtype: str, cast: bool) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        value = np.asarray(value)
        return backend.asarray(value, dtype if cast and value.dtype.kind == "f" else None)
    return value


def _leaves(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _check_placement(out: Any, backend: BackendInfo, dtype: str) -> str:
    """'' when ``out`` is in the backend's library, on its device and in ``dtype``."""
    module = type(out).__module__.split(".")[0]
    library = {"jaxlib": "jax"}.get(module, module)
    if library != backend.library:
        return f"result is a {type(out).__module__}.{type(out).__name__}, not {backend.library}"
    if _dtype_name(out.dtype) != dtype:
        return f"result dtype {_dtype_name(out.dtype)}, expected {dtype}"
    if not backend.lazy:
        import array_api_compat

        device = array_api_compat.device(out)
        if device != backend.device:
            return f"result on {device}, expected {backend.device}"
    return ""


def _host(x: Any, backend: BackendInfo) -> np.ndarray:
    if backend.lazy:
        import dask

        # small graphs: the threaded scheduler's start-up would dominate
        with dask.config.set(scheduler="synchronous"):
            return backend.to_numpy(x)
    return backend.to_numpy(x)


def _forbid_compute(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("xloss computed a Dask graph: results must stay lazy")


def _jit_call(fn: Callable[..., Any], args: list[Any], options: dict[str, Any]) -> Any:
    """``fn`` under ``jax.jit``, arrays traced and everything else static.

    One compilation per call instead of one per primitive and shape in eager mode (the
    report's largest cost), and the way JAX users run losses anyway.
    """
    import jax

    arrays = [a for a in args if isinstance(a, jax.Array)]
    array_options = {k: v for k, v in options.items() if isinstance(v, jax.Array)}

    def traced(arrays: list[Any], array_options: dict[str, Any]) -> Any:
        it = iter(arrays)
        full = [next(it) if isinstance(a, jax.Array) else a for a in args]
        return fn(*full, **{**options, **array_options})

    return jax.jit(traced)(arrays, array_options)


def _call(
    fn: Callable[..., Any], backend: BackendInfo, args: list[Any], options: dict[str, Any]
) -> Any:
    if backend.library == "jax":
        return _jit_call(fn, args, options)
    if backend.lazy:
        import dask

        with dask.config.set(scheduler=_forbid_compute):
            return fn(*args, **options)
    return fn(*args, **options)


def _xloss_numpy(fn: Callable[..., Any], args: list[Any], options: dict[str, Any]) -> list[Any]:
    with np.errstate(all="ignore"):
        return [np.asarray(to_numpy(o), dtype=np.float64) for o in _leaves(fn(*args, **options))]


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


class _Runner:
    def __init__(
        self,
        backends: list[BackendInfo],
        dtypes: Sequence[str] | None,
        progress: Callable[[str], None],
        strict: bool = True,
        references: bool = True,
        gradient_backends: list[BackendInfo] | None = None,
    ) -> None:
        self.backends = backends
        self.references = references
        self.gradient_backends = backends if gradient_backends is None else gradient_backends
        self.dtypes = dtypes
        self.progress = progress
        self.strict = strict
        self.results: list[Result] = []

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.results.append(Result(*args, **kwargs))

    def run_case(self, name: str, case: CheckCase, fn: Callable[..., Any], quick: bool) -> None:
        try:
            samples = case.samples(case.rng())
        except Exception as exc:
            self.add(name, "samples", "-", "-", "FAIL", message=_error_text(exc))
            return
        if quick:
            samples = samples[:1]
        for index, sample in enumerate(samples):
            self.run_sample(name, case, fn, sample, index, quick)
        if case.grad and not quick:
            self.run_gradient(name, case, fn, samples)

    def run_sample(
        self,
        name: str,
        case: CheckCase,
        fn: Callable[..., Any],
        sample: Sample,
        index: int,
        quick: bool = False,
    ) -> None:
        label = sample.describe()
        references: dict[str, Any] = {}

        def reference_for(dtype: str) -> Any:
            if dtype not in references:
                try:
                    args, options = _prepare(sample, dtype)
                    references[dtype] = _xloss_numpy(fn, args, options)
                except Exception as exc:
                    references[dtype] = exc
            return references[dtype]

        if self.references and not quick:  # the frameworks' imports alone take seconds
            self.run_framework_reference(name, case, sample, reference_for("float64"))
        for backend in self.backends:
            # --quick: float32, the everyday dtype, which every backend has
            for dtype in QUICK_DTYPES if quick else backend.dtypes:
                if self.dtypes and dtype not in self.dtypes:
                    continue
                if sample.dtypes is not None:
                    if dtype not in sample.dtypes:
                        continue
                elif dtype in LOW_PRECISION and index >= LOW_PRECISION_SAMPLES:
                    continue  # rounding is the same story for every sample: keep it fast
                self.progress(f"{name}  {label}  {backend.name} {dtype}")
                expected = reference_for(dtype)
                if isinstance(expected, BaseException):
                    self.add(
                        name,
                        label,
                        backend.name,
                        dtype,
                        "FAIL",
                        message="NumPy float64 reference raised " + _error_text(expected),
                    )
                    continue
                self.run_one(name, case, fn, sample, backend, dtype, expected)

    def run_one(
        self,
        name: str,
        case: CheckCase,
        fn: Callable[..., Any],
        sample: Sample,
        backend: BackendInfo,
        dtype: str,
        expected: list[np.ndarray],
    ) -> None:
        label = sample.describe()
        tol = case.tol(dtype)
        args, options = _prepare(sample, dtype)
        try:
            native_args = [
                _on_backend(a, backend, dtype, i not in sample.keep) for i, a in enumerate(args)
            ]
            native_options = {k: _on_backend(v, backend, dtype, True) for k, v in options.items()}
            if self.strict:
                out = _leaves(_call(fn, backend, native_args, native_options))
            else:
                out = _leaves(fn(*native_args, **native_options))
            problems = [_check_placement(o, backend, dtype) for o in out]
            actual = [np.asarray(_host(o, backend), dtype=np.float64) for o in out]
        except Exception as exc:
            self.add(
                name, label, backend.name, dtype, "FAIL", tolerance=tol, message=_error_text(exc)
            )
            return
        problem = next((p for p in problems if p), "")
        if problem:
            self.add(name, label, backend.name, dtype, "FAIL", tolerance=tol, message=problem)
            return
        if len(actual) != len(expected):
            self.add(
                name,
                label,
                backend.name,
                dtype,
                "FAIL",
                tolerance=tol,
                message=f"{len(actual)} outputs, the reference has {len(expected)}",
            )
            return
        worst, message = 0.0, ""
        for a, e in zip(actual, expected, strict=False):
            err, msg = compare(a, e, dtype, sample.scale)
            if err >= worst:
                worst, message = err, msg
        status = "PASS" if worst <= tol else "FAIL"
        self.add(
            name,
            label,
            backend.name,
            dtype,
            status,
            worst,
            tol,
            message if status == "FAIL" else "",
        )

    def run_framework_reference(
        self, name: str, case: CheckCase, sample: Sample, ours: Any
    ) -> None:
        if case.reference is None or not sample.reference:
            return
        if self.dtypes and "float64" not in self.dtypes:
            return
        label = sample.describe()
        tol = case.tol("float64")
        if isinstance(ours, BaseException):
            self.add(
                name,
                label,
                REFERENCE,
                "float64",
                "FAIL",
                tolerance=tol,
                message="xloss on NumPy raised " + _error_text(ours),
            )
            return
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the frameworks' deprecation chatter
                theirs = np.asarray(
                    case.reference(*sample.args, **sample.options), dtype=np.float64
                )
        except ImportError as exc:
            self.add(
                name,
                label,
                REFERENCE,
                "float64",
                "SKIP",
                message=f"{case.reference_name}: {exc.name or exc} not installed",
            )
            return
        except NotComparable as exc:
            self.add(name, label, REFERENCE, "float64", "SKIP", message=str(exc))
            return
        except Exception as exc:
            self.add(
                name,
                label,
                REFERENCE,
                "float64",
                "SKIP",
                message=f"{case.reference_name} raised {_error_text(exc)}",
            )
            return
        precision = sample.reference_dtype
        if precision != "float64":
            tol = case.tol(precision)
        err, msg = compare(ours[0], theirs, precision, sample.scale)
        status = "PASS" if err <= tol else "FAIL"
        self.add(
            name,
            label,
            REFERENCE,
            "float64",
            status,
            err,
            tol,
            f"vs {case.reference_name}: {msg}" if status == "FAIL" else case.reference_name,
        )

    def run_gradient(
        self, name: str, case: CheckCase, fn: Callable[..., Any], samples: list[Sample]
    ) -> None:
        torch_b = next((b for b in self.gradient_backends if b.name == "torch:cpu"), None)
        jax_b = next(
            (b for b in self.gradient_backends if b.library == "jax" and "float64" in b.dtypes),
            None,
        )
        if torch_b is None or jax_b is None:
            return
        if self.dtypes and "float64" not in self.dtypes:
            return
        import jax
        import jax.numpy as jnp
        import torch

        usable = [
            s
            for s in samples
            if s.dtypes is None and s.args and _is_float(s.args[0]) and s.args[0].size
        ]
        for sample in usable[:3]:
            label = sample.describe()
            self.progress(f"{name}  {label}  gradient")
            tol = case.tol("float64")
            try:
                rest = [_on_backend(a, torch_b, "float64", True) for a in sample.args[1:]]
                opts = {
                    k: _on_backend(v, torch_b, "float64", True) for k, v in sample.options.items()
                }
                x = torch_b.asarray(sample.args[0], "float64").requires_grad_(True)
                torch.sum(_leaves(fn(x, *rest, **opts))[0]).backward()  # type: ignore[no-untyped-call]
                g_torch = x.grad.numpy()
                rest_j = [_on_backend(a, jax_b, "float64", True) for a in sample.args[1:]]
                opts_j = {
                    k: _on_backend(v, jax_b, "float64", True) for k, v in sample.options.items()
                }
                g_jax = np.asarray(
                    jax.grad(lambda a, r=rest_j, o=opts_j: jnp.sum(_leaves(fn(a, *r, **o))[0]))(
                        jax_b.asarray(sample.args[0], "float64")
                    )
                )
            except Exception as exc:
                self.add(
                    name,
                    label,
                    GRADIENT,
                    "float64",
                    "FAIL",
                    tolerance=tol,
                    message=_error_text(exc),
                )
                continue
            err, msg = compare(g_jax, g_torch, "float64", sample.scale)
            status = "PASS" if err <= tol else "FAIL"
            self.add(
                name, label, GRADIENT, "float64", status, err, tol, msg if status == "FAIL" else ""
            )


def _silent(_: str) -> None:
    return None


def run(
    *,
    functions: Sequence[str] | None = None,
    backends: Sequence[str] | None = None,
    dtypes: Sequence[str] | None = None,
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    discovered: tuple[list[BackendInfo], list[Missing]] | None = None,
    jobs: int = 1,
    case_modules: Sequence[str] = (),
) -> Report:
    """Run the consistency check and return the :class:`Report`.

    ``functions`` and ``backends`` are lists of names or glob patterns
    (``"cross_entropy"``, ``"info.*"``; ``"torch"``, ``"array_api_strict:device1"``);
    ``quick`` runs each function's first sample only. With ``jobs > 1`` the JAX backends
    (whose XLA compilations are most of the run's time) run in a second, spawned process
    that imports ``case_modules`` first; cases registered only in this process are then
    not seen there.
    """
    started = time.perf_counter()
    progress = progress or _silent
    found, missing = discovered if discovered is not None else discover()
    report = Report(backends=_select_backends(found, backends), missing=missing)
    public, broken = public_functions()
    for message in broken:
        report.results.append(
            Result(message.split(":")[0], "import", "-", "-", "FAIL", message=message)
        )
    names = list(dict.fromkeys([*public, *CASES]))
    names = _select(names, functions)
    if functions and not names:
        report.results.append(
            Result(
                ",".join(functions),
                "-",
                "-",
                "-",
                "FAIL",
                message="no public function or check case matches",
            )
        )
    report.functions = names
    offloaded = [b for b in report.backends if b.library == "jax"] if jobs > 1 else []
    if len(offloaded) == len(report.backends):
        offloaded = []
    local = [b for b in report.backends if b not in offloaded]
    future = None
    if offloaded:
        import concurrent.futures
        import multiprocessing

        pool = concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn")
        )
        future = pool.submit(
            _worker, names, [b.name for b in offloaded], dtypes, quick, list(case_modules)
        )
    runner = _Runner(local, dtypes, progress, gradient_backends=report.backends)
    _run_names(runner, names, quick, progress, bookkeeping=True)
    report.results = [*report.results, *runner.results]
    if future is not None:
        progress(f"waiting for {', '.join(b.name for b in offloaded)}")
        try:
            report.results += future.result()
        except Exception as exc:
            report.results.append(
                Result("-", "worker", offloaded[0].name, "-", "FAIL", message=_error_text(exc))
            )
        finally:
            pool.shutdown()
    report.seconds = time.perf_counter() - started
    return report


def _run_names(
    runner: _Runner,
    names: list[str],
    quick: bool,
    progress: Callable[[str], None],
    bookkeeping: bool,
) -> None:
    for index, name in enumerate(names, 1):
        progress(f"[{index}/{len(names)}] {name}")
        case = CASES.get(name)
        if case is None:
            if bookkeeping:
                runner.add(name, "-", "-", "-", "FAIL", message="no check case")
            continue
        fn = resolve_function(case)
        if fn is None:
            if bookkeeping:
                runner.add(
                    name, "-", "-", "-", "MISSING", message="not (yet) a public function of xloss"
                )
            continue
        runner.run_case(name, case, fn, quick)


def _worker(
    names: list[str],
    backend_names: list[str],
    dtypes: Sequence[str] | None,
    quick: bool,
    case_modules: list[str],
) -> list[Result]:
    """Run ``names`` on ``backend_names`` only, in a spawned process (no references)."""
    for module in case_modules:
        importlib.import_module(module)
    libraries = {n.split(":")[0] for n in backend_names}
    if "jax" in libraries:
        import jax

        jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
    found, _ = discover(libraries)
    backends = [b for b in found if b.name in backend_names]
    runner = _Runner(backends, dtypes, _silent, references=False, gradient_backends=[])
    _run_names(runner, names, quick, _silent, bookkeeping=False)
    return runner.results


def compare_function(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    discovered: tuple[list[BackendInfo], list[Missing]] | None = None,
    dtypes: Sequence[str] = ("float64", "float32"),
) -> Report:
    """Run a user's ``fn`` on every backend x dtype against its own NumPy float64 result.

    NumPy arrays in ``args``/``kwargs`` are converted (floating ones to each dtype);
    ``fn`` runs eagerly (no ``jax.jit``, Dask may compute), as the user wrote it.
    """
    started = time.perf_counter()
    found, missing = discovered if discovered is not None else discover()
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    report = Report(backends=found, missing=missing, functions=[name])
    args = tuple(to_numpy(a) if _foreign(a) else a for a in args)
    kwargs = {k: to_numpy(v) if _foreign(v) else v for k, v in kwargs.items()}
    case = CheckCase(name, lambda rng: [Sample("call", args, kwargs)], fn=fn)
    runner = _Runner(found, dtypes, _silent, strict=False)
    runner.run_case(name, case, fn, quick=False)
    report.results = runner.results
    report.seconds = time.perf_counter() - started
    return report


def _foreign(value: Any) -> bool:
    """An array of a library other than NumPy (converted to NumPy first)."""
    return (
        hasattr(value, "__array_namespace__") or hasattr(value, "__dlpack__")
    ) and not isinstance(value, (np.ndarray, np.generic))


def _ensure_cases() -> None:
    from . import _cases  # noqa: F401  (registers the built-in cases)


_ensure_cases()
