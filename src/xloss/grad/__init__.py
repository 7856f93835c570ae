"""Analytic value, gradient and Hessian diagonal of every xloss loss.

``xloss.grad.<loss>(...)`` takes the arguments and options of ``xloss.<loss>`` and returns
``(loss, d_input)``: the value exactly as ``xloss.<loss>`` returns it and its derivative
with respect to ``input`` (for ``reduction="none"`` the derivative of the sum, i.e. each
element's own derivative). ``hessian=True`` appends the diagonal of the Hessian with
respect to ``input``, which is what second-order boosting objectives (XGBoost, LightGBM)
use. The derivatives are written once against the array API, so NumPy, CuPy, Dask and
array-api-strict get them without autograd, and torch and JAX get the same numbers as
their autograd. :mod:`xloss.grad.info` differentiates entropy, cross-entropy and KL
divergence with respect to logits.
"""

from __future__ import annotations

from . import info as info
from ._classification import binary_cross_entropy as binary_cross_entropy
from ._classification import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from ._classification import cross_entropy as cross_entropy
from ._classification import kl_div as kl_div
from ._classification import multilabel_soft_margin_loss as multilabel_soft_margin_loss
from ._classification import nll_loss as nll_loss
from ._classification import sigmoid_focal_loss as sigmoid_focal_loss
from ._classification import soft_margin_loss as soft_margin_loss
from ._regression import gaussian_nll_loss as gaussian_nll_loss
from ._regression import huber_loss as huber_loss
from ._regression import l1_loss as l1_loss
from ._regression import log_cosh_loss as log_cosh_loss
from ._regression import mse_loss as mse_loss
from ._regression import poisson_nll_loss as poisson_nll_loss
from ._regression import smooth_l1_loss as smooth_l1_loss

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "gaussian_nll_loss",
    "huber_loss",
    "info",
    "kl_div",
    "l1_loss",
    "log_cosh_loss",
    "mse_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
]
