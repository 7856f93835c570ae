"""Real backends for the test suite: one :class:`Case` per library x device x execution mode.

``XLOSS_BACKENDS`` (comma-separated names, or ``all``; default ``all``) selects which the
``case`` fixture runs over; a selected backend that is not installed is skipped with the
reason. Nothing here is mocked: every case converts NumPy test data into that library's
own arrays on that device and converts results back for comparison.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALL = (
    "numpy",
    "array_api_strict",
    "array_api_strict-device1",
    "array_api_strict-no_float64",
    "torch",
    "torch-cuda",
    "jax",
    "jax-jit",
    "dask",
    "cupy",
)

_MODULE_OF = {
    "numpy": "numpy",
    "array_api_strict": "array_api_strict",
    "torch": "torch",
    "jax": "jax",
    "dask": "dask",
    "cupy": "cupy",
}


def selected() -> list[str]:
    """The case names ``XLOSS_BACKENDS`` asks for (all of them by default)."""
    raw = os.environ.get("XLOSS_BACKENDS", "all").strip()
    if raw in ("", "all"):
        return list(ALL)
    wanted = {w.strip() for w in raw.split(",") if w.strip()}
    # "torch" selects torch and torch-cuda, "jax" both modes, and so on.
    return [c for c in ALL if c in wanted or c.split("-")[0] in wanted]


def unavailable_reason(name: str) -> str | None:
    """Why case ``name`` cannot run here, or ``None`` when it can."""
    library = name.split("-")[0]
    if importlib.util.find_spec(_MODULE_OF[library]) is None:
        return f"{library} is not installed"
    if library == "dask" and importlib.util.find_spec("dask.array") is None:
        return "dask[array] is not installed"
    if name == "torch-cuda":
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device"
    if library == "cupy":
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() < 1:
                return "no CUDA device"
        except Exception as exc:
            return f"CuPy cannot reach a GPU: {exc}"
    return None


def _forbid_compute(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("xloss computed a Dask graph: results must stay lazy")


@dataclass
class Case:
    """One backend x device x mode, with conversions to and from NumPy test data."""

    name: str
    library: str
    xp: Any = field(repr=False)
    device: Any = None
    jit: bool = False
    lazy: bool = False
    float64: bool = True
    autograd: bool = False

    # -- data in -------------------------------------------------------------------------
    def dtype(self, name: str) -> Any:
        """The library's dtype called ``name`` ('float32', 'int64', 'bfloat16', ...)."""
        if name == "bfloat16" and self.library in ("numpy", "dask", "array_api_strict", "cupy"):
            raise LookupError(f"{self.name} has no bfloat16")
        if name == "float16" and self.library == "array_api_strict":
            raise LookupError(f"{self.name} has no float16")
        return getattr(self.xp, name)

    def asarray(self, data: Any, dtype: str | None = None) -> Any:
        """NumPy data (or nested lists) as this case's array on its device."""
        data = np.asarray(data)
        if dtype is None:
            if data.dtype.kind == "f":
                dtype = "float64" if self.float64 else "float32"
            elif data.dtype.kind in "iu":
                dtype = "int64" if self.float64 else "int32"
            elif data.dtype.kind == "b":
                dtype = "bool"
            else:
                dtype = str(data.dtype)
        if self.library == "torch":
            import torch

            return torch.asarray(data.copy(), dtype=getattr(torch, dtype), device=self.device)
        if self.library == "jax":
            import jax.numpy as jnp

            return jnp.asarray(data, dtype=getattr(jnp, dtype))
        if self.library == "dask":
            import dask.array as da

            return da.from_array(data.astype(dtype), chunks=-1)
        if self.library == "cupy":
            import cupy

            return cupy.asarray(data, dtype=dtype)
        if self.library == "array_api_strict":
            return self.xp.asarray(data.astype(dtype), device=self.device)
        return np.asarray(data, dtype=dtype)

    # -- data out ------------------------------------------------------------------------
    def to_numpy(self, x: Any) -> np.ndarray:
        """A result as a float64-comparable NumPy array (computing lazy results)."""
        if self.library == "torch":
            x = x.detach().cpu()
            if x.dtype.is_floating_point:
                x = x.double()
            return x.numpy()
        if self.library == "dask":
            # The graph runs NumPy here, outside xloss's own errstate: the inf/NaN it makes
            # on purpose (log 0 in a KL term, ...) would warn.
            with np.errstate(all="ignore"):
                return np.asarray(x.compute())
        if self.library == "cupy":
            return x.get()
        if self.library == "array_api_strict":
            import array_api_strict

            cpu = array_api_strict.Device("CPU_DEVICE")
            return np.from_dlpack(x.to_device(cpu) if x.device != cpu else x)
        if self.library == "jax":
            return np.asarray(x.astype("float64") if str(x.dtype) == "bfloat16" else x)
        return np.asarray(x)

    # -- calling -------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` as this case runs it: under ``jax.jit``, or with Dask compute forbidden."""
        if self.jit:
            import jax

            return jax.jit(functools.partial(fn, **kwargs))(*args)
        if self.lazy:
            import dask

            with dask.config.set(scheduler=_forbid_compute):
                out = fn(*args, **kwargs)
            for leaf in out if isinstance(out, tuple) else (out,):
                assert type(leaf).__module__.startswith("dask"), f"not lazy: {type(leaf)}"
            return out
        return fn(*args, **kwargs)


def make_case(name: str) -> Case:
    """Build case ``name`` (the backend must be available)."""
    library = name.split("-")[0]
    if library == "numpy":
        import array_api_compat.numpy as xp

        return Case(name, library, xp, device="cpu")
    if library == "array_api_strict":
        import array_api_strict as xp

        devices = {str(d): d for d in xp.__array_namespace_info__().devices()}
        key = name.split("-", 1)[1] if "-" in name else "CPU_DEVICE"
        device = next(d for s, d in devices.items() if key in s)
        return Case(name, library, xp, device=device, float64=key != "no_float64")
    if library == "torch":
        import array_api_compat.torch as xp
        import torch

        # An indexed device: tensors report cuda:0, and torch.device("cuda") != cuda:0.
        device = torch.device("cuda", 0) if name == "torch-cuda" else torch.device("cpu")
        return Case(name, library, xp, device=device, autograd=True)
    if library == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as xp

        return Case(
            name, library, xp, device=jax.devices()[0], jit=name == "jax-jit", autograd=True
        )
    if library == "dask":
        import array_api_compat.dask.array as xp

        return Case(name, library, xp, device="cpu", lazy=True)
    if library == "cupy":
        import array_api_compat.cupy as xp
        import cupy

        return Case(name, library, xp, device=cupy.cuda.Device(0))
    raise LookupError(name)


def assert_result(
    case: Case,
    result: Any,
    expected: Any,
    *,
    dtype: str | None = None,
    rtol: float | None = None,
    atol: float = 0.0,
) -> None:
    """Check a result's library, device, dtype, shape and values against NumPy ``expected``.

    ``dtype`` is the dtype name the result must have (default: the case's default
    floating dtype). Default ``rtol`` depends on it: 1e-12 for float64, 2e-6 for float32,
    1e-2 for float16/bfloat16.
    """
    import array_api_compat

    assert array_api_compat.array_namespace(result) is array_api_compat.array_namespace(
        case.asarray(np.zeros(1))
    ), f"result is a {type(result)}, not a {case.library} array"
    dtype = dtype or ("float64" if case.float64 else "float32")
    assert result.dtype == case.dtype(dtype), f"dtype {result.dtype}, expected {dtype}"
    if case.device is not None and not case.jit and case.library not in ("dask", "jax"):
        got = array_api_compat.device(result)
        assert got == case.device, f"result on {got}, expected {case.device}"
    expected = np.asarray(expected, dtype=np.float64)
    assert tuple(result.shape) == expected.shape, f"shape {result.shape} != {expected.shape}"
    if rtol is None:
        rtol = {"float64": 1e-12, "float32": 2e-6}.get(dtype, 1e-2)
    np.testing.assert_allclose(
        case.to_numpy(result), expected, rtol=rtol, atol=atol, equal_nan=True
    )
