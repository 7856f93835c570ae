"""Type aliases shared by the package (the array API has no runtime types)."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Literal, TypeAlias

Array: TypeAlias = Any
"""Any array-API-compatible array (NumPy, CuPy, torch, JAX, Dask, array-api-strict)."""

ArrayNamespace: TypeAlias = ModuleType | Any
Device: TypeAlias = Any
DType: TypeAlias = Any
Reduction: TypeAlias = Literal["mean", "sum", "none"]

__all__ = ["Array", "ArrayNamespace", "DType", "Device", "Reduction"]
