"""NumPy native entries (blocked, buffer-reusing kernels live here)."""

from __future__ import annotations
