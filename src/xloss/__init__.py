"""xloss: loss and information-theory functions written once against the array API standard.

The same definitions run on NumPy, CuPy, PyTorch (CPU and GPU), JAX, Dask and
array-api-strict, and return their result in the caller's own array library, on the
caller's own device. Importing xloss imports none of those frameworks: a backend is only
touched when its arrays arrive.
"""

from __future__ import annotations

from . import grad, info, metrics, special
from ._dispatch import load_imported as _load_imported

# -- classification and divergence losses (torch.nn.functional names) --------------------
# isort: split
from ._classification import binary_cross_entropy as binary_cross_entropy
from ._classification import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from ._classification import cross_entropy as cross_entropy
from ._classification import kl_div as kl_div
from ._classification import multilabel_soft_margin_loss as multilabel_soft_margin_loss
from ._classification import nll_loss as nll_loss
from ._classification import sigmoid_focal_loss as sigmoid_focal_loss
from ._classification import soft_margin_loss as soft_margin_loss

# -- regression likelihoods (torch.nn.functional names) ----------------------------------
# isort: split
from ._regression import gaussian_nll_loss as gaussian_nll_loss
from ._regression import huber_loss as huber_loss
from ._regression import l1_loss as l1_loss
from ._regression import log_cosh_loss as log_cosh_loss
from ._regression import mse_loss as mse_loss
from ._regression import poisson_nll_loss as poisson_nll_loss
from ._regression import smooth_l1_loss as smooth_l1_loss

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "kl_div",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "sigmoid_focal_loss",
    "soft_margin_loss",
    "gaussian_nll_loss",
    "huber_loss",
    "l1_loss",
    "log_cosh_loss",
    "mse_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "grad",
    "info",
    "metrics",
    "special",
]

_load_imported()  # native entries of frameworks imported before xloss
