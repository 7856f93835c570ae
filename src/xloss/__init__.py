"""xloss: loss and information-theory functions written once against the array API standard.

The same definitions run on NumPy, CuPy, PyTorch (CPU and GPU), JAX, Dask and
array-api-strict, and return their result in the caller's own array library, on the
caller's own device. Importing xloss imports none of those frameworks: a backend is only
touched when its arrays arrive.
"""

from __future__ import annotations

from . import info, special
from ._dispatch import load_imported as _load_imported

# -- classification and divergence losses (torch.nn.functional names) --------------------

# -- regression likelihoods (torch.nn.functional names) ----------------------------------

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "info",
    "special",
]

_load_imported()  # native entries of frameworks imported before xloss
