"""CuPy native entries (fused reduction and elementwise kernels live here)."""

from __future__ import annotations
