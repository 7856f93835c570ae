"""Discovery of the installed array libraries and their devices, as data.

A library is only imported when it is installed (``importlib.util.find_spec``) and asked
for, so ``python -m xloss check`` runs with NumPy alone. Each :class:`BackendInfo`
converts NumPy data into its library's arrays on its device and back, which is all the
consistency report and :mod:`xloss.testing` need to know about a library.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["INSTALL_HINTS", "BackendInfo", "Missing", "discover"]

# The order of the report's columns.
LIBRARIES = ("numpy", "array_api_strict", "torch", "jax", "dask", "cupy")

INSTALL_HINTS = {
    "array_api_strict": 'pip install "xloss[strict]"',
    "torch": 'pip install "xloss[torch]"',
    "jax": 'pip install "xloss[jax]"',
    "dask": 'pip install "xloss[dask]"',
    "cupy": 'pip install "xloss[cupy]"  (needs an NVIDIA GPU)',
}


@dataclass(frozen=True)
class Missing:
    """A library or device that could not be used, why, and how to get it."""

    name: str
    reason: str
    hint: str = ""


@dataclass(frozen=True)
class BackendInfo:
    """One array library on one device, as the consistency report runs it.

    Attributes
    ----------
    name
        ``"numpy"``, ``"array_api_strict"``, ``"array_api_strict:device1"``,
        ``"array_api_strict:no_float64"``, ``"torch:cpu"``, ``"torch:cuda"``,
        ``"torch:mps"``, ``"jax:cpu"``, ``"jax:gpu"``, ``"dask"`` or ``"cupy"``.
    library
        The library's import name.
    device
        The library's own device object (``"cpu"`` for NumPy and Dask).
    dtypes
        The floating dtypes this backend supports here, by name, widest first.
    lazy
        Whether results are lazy (Dask) and are only computed by :meth:`to_numpy`.
    """

    name: str
    library: str
    device: Any = field(compare=False)
    dtypes: tuple[str, ...]
    lazy: bool = False

    def __str__(self) -> str:
        return self.name

    @property
    def namespace(self) -> Any:
        """The array-API namespace of this backend's arrays."""
        import array_api_compat

        return array_api_compat.array_namespace(self.asarray(np.zeros(1, dtype=np.float32)))

    def dtype(self, name: str) -> Any:
        """The library's dtype object called ``name``."""
        if self.library == "torch":
            return getattr(sys.modules["torch"], name)
        if self.library == "jax":
            return getattr(sys.modules["jax.numpy"], name)
        if self.library == "array_api_strict":
            return getattr(sys.modules["array_api_strict"], name)
        if name == "bfloat16":
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(name)

    def asarray(self, data: Any, dtype: str | None = None) -> Any:
        """NumPy data (or nested lists) as this backend's array, on its device.

        ``dtype`` names the result's dtype; by default floating data becomes this
        backend's widest floating dtype and integer data ``int64``.
        """
        data = np.asarray(data)
        if dtype is None:
            if data.dtype.kind == "f":
                dtype = self.dtypes[0]
            elif data.dtype.kind in "iu":
                dtype = "int64"
            elif data.dtype.kind == "b":
                dtype = "bool"
            else:
                dtype = str(data.dtype)
        lib = self.library
        if lib == "torch":
            torch = sys.modules["torch"]
            host = torch.from_numpy(
                np.array(data, dtype=np.float64 if data.dtype.kind == "f" else None)
            )
            return host.to(device=self.device, dtype=getattr(torch, dtype))
        if lib == "jax":
            jax = sys.modules["jax"]
            jnp = sys.modules["jax.numpy"]
            return jax.device_put(jnp.asarray(data, dtype=getattr(jnp, dtype)), self.device)
        if lib == "dask":
            import dask.array as da

            host = data.astype(self.dtype(dtype))
            # Two blocks along the first axis, so reductions combine partial results.
            chunks = tuple(max(1, -(-n // 2)) if i == 0 else -1 for i, n in enumerate(host.shape))
            return da.from_array(host, chunks=chunks or -1)  # type: ignore[no-untyped-call]
        if lib == "cupy":
            cupy = sys.modules["cupy"]
            with self.device:
                return cupy.asarray(data.astype(dtype))
        if lib == "array_api_strict":
            xp = sys.modules["array_api_strict"]
            return xp.asarray(data.astype(dtype), device=self.device)
        return np.array(data, dtype=self.dtype(dtype))

    def to_numpy(self, x: Any) -> np.ndarray:
        """This backend's array as a NumPy array (low-precision floats widened to float64).

        Goes through the library's own host transfer; never modifies ``x``.
        """
        return to_numpy(x)


def _library_of(x: Any) -> str:
    module = type(x).__module__.split(".")[0]
    return {"jaxlib": "jax"}.get(module, module)


def to_numpy(x: Any) -> np.ndarray:
    """Any supported library's array (or a Python scalar) as a NumPy array, on the host.

    Uses the library's own host transfer (``.cpu()``, ``.get()``, ``.compute()``) or
    DLPack; low-precision floats (float16 keeps its dtype, bfloat16) become float64 where
    NumPy cannot hold them. The input is never modified.
    """
    lib = _library_of(x)
    if lib == "numpy" or isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    if lib == "torch":
        t = x.detach()
        if t.dtype == sys.modules["torch"].bfloat16:
            t = t.double()
        return t.cpu().resolve_conj().resolve_neg().numpy().copy()
    if lib == "dask":
        with np.errstate(all="ignore"):
            return to_numpy(x.compute())
    if lib == "cupy":
        return x.get()
    if lib == "array_api_strict":
        xp = sys.modules["array_api_strict"]
        cpu = xp.Device("CPU_DEVICE")
        host = x if x.device == cpu else x.to_device(cpu)
        return np.from_dlpack(host).copy()
    if lib == "jax":
        if str(x.dtype) == "bfloat16":
            return np.asarray(x.astype("float32")).astype(np.float64)
        return np.asarray(x)
    if isinstance(x, (bool, int, float)):
        return np.asarray(x)
    try:
        return np.from_dlpack(x).copy()
    except Exception:
        return np.asarray(x)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _numpy() -> list[BackendInfo]:
    dtypes = ("float64", "float32", "float16")
    return [BackendInfo("numpy", "numpy", "cpu", dtypes)]


def _strict() -> list[BackendInfo]:
    import array_api_strict as xp

    devices = {str(d): d for d in xp.__array_namespace_info__().devices()}
    found = [
        BackendInfo(
            "array_api_strict", "array_api_strict", xp.Device("CPU_DEVICE"), ("float64", "float32")
        )
    ]
    for key, dtypes in (("device1", ("float64", "float32")), ("no_float64", ("float32",))):
        device = next((d for s, d in devices.items() if key in s), None)
        if device is not None:
            found.append(BackendInfo(f"array_api_strict:{key}", "array_api_strict", device, dtypes))
    return found


def _torch(missing: list[Missing]) -> list[BackendInfo]:
    import torch

    found = [
        BackendInfo(
            "torch:cpu", "torch", torch.device("cpu"), ("float64", "float32", "float16", "bfloat16")
        )
    ]
    if torch.cuda.is_available():
        found.append(
            BackendInfo(
                "torch:cuda",
                "torch",
                torch.device("cuda", 0),
                ("float64", "float32", "float16", "bfloat16"),
            )
        )
    else:
        missing.append(Missing("torch:cuda", "no CUDA device visible to torch"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(
            BackendInfo(
                "torch:mps", "torch", torch.device("mps"), ("float32", "float16", "bfloat16")
            )
        )
    return found


def _jax(missing: list[Missing]) -> list[BackendInfo]:
    import jax
    import jax.numpy

    wide = ("float64",) if jax.config.jax_enable_x64 else ()  # type: ignore[attr-defined]
    dtypes = (*wide, "float32", "float16", "bfloat16")
    found = [BackendInfo("jax:cpu", "jax", jax.devices("cpu")[0], dtypes)]
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        gpus = []
    if gpus:
        found.append(BackendInfo("jax:gpu", "jax", gpus[0], dtypes))
    else:
        missing.append(Missing("jax:gpu", "no GPU visible to JAX"))
    if not wide:
        missing.append(
            Missing(
                "jax float64",
                "jax_enable_x64 is off",
                'jax.config.update("jax_enable_x64", True) before discovery',
            )
        )
    return found


def _dask() -> list[BackendInfo]:
    import dask.array  # noqa: F401

    return [BackendInfo("dask", "dask", "cpu", ("float64", "float32", "float16"), lazy=True)]


def _cupy(missing: list[Missing]) -> list[BackendInfo]:
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
        device = cupy.cuda.Device(0)
        with device:
            cupy.asarray([1.0]).sum().get()  # the driver and runtime really work
    except Exception as exc:
        missing.append(Missing("cupy", f"installed, but cannot use a GPU: {exc}"))
        return []
    return [BackendInfo("cupy", "cupy", device, ("float64", "float32", "float16"))]


def discover(
    libraries: Iterable[str] | None = None,
) -> tuple[list[BackendInfo], list[Missing]]:
    """Every usable backend x device among ``libraries`` (default: all), and what is not.

    Returns
    -------
    found : list of BackendInfo
        In report order: NumPy, array-api-strict, torch, JAX, Dask, CuPy.
    missing : list of Missing
        Libraries not installed (with the ``pip install`` line that adds them) and
        devices not present.
    """
    wanted = list(LIBRARIES if libraries is None else libraries)
    found: list[BackendInfo] = []
    missing: list[Missing] = []
    for library in LIBRARIES:
        if library not in wanted:
            continue
        module = "dask.array" if library == "dask" else library
        if library == "dask" and not _installed("dask"):
            module = "dask"
        if not _installed(module):
            missing.append(Missing(library, "not installed", INSTALL_HINTS.get(library, "")))
            continue
        try:
            if library == "numpy":
                found += _numpy()
            elif library == "array_api_strict":
                found += _strict()
            elif library == "torch":
                found += _torch(missing)
            elif library == "jax":
                found += _jax(missing)
            elif library == "dask":
                found += _dask()
            elif library == "cupy":
                found += _cupy(missing)
        except Exception as exc:  # a broken installation is reported, not fatal
            missing.append(
                Missing(
                    library,
                    f"import failed: {type(exc).__name__}: {exc}",
                    INSTALL_HINTS.get(library, ""),
                )
            )
    return found, missing
