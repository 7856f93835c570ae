"""PyTorch native entries: ``torch`` / ``torch.special`` kernels where semantics match exactly.

Each entry keeps native autograd. Every one is held against its generic definition by
``tests/test_dispatch.py`` on random and adversarial inputs.
"""

from __future__ import annotations

from typing import Any

import torch

from .._backend import Backend
from . import register

# xlogy/xlog1py are not delegated: torch.special.xlogy and jax.scipy.special.xlogy give a
# NaN gradient in y at x = y = 0, where the generic double-where form gives 0.


@register("logsumexp", "torch")
def logsumexp(x: Any, *, axis: Any, keepdims: bool, backend: Backend) -> Any:
    if axis is None:
        axis = tuple(range(x.ndim))
    if x.ndim == 0 or any(x.shape[a] == 0 for a in ((axis,) if isinstance(axis, int) else axis)):
        return NotImplemented  # torch rejects 0-d reductions over () and empty axes differ
    return torch.logsumexp(x, dim=axis, keepdim=keepdims)


@register("log_softmax", "torch")
def log_softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    return torch.log_softmax(x, dim=axis)


@register("softmax", "torch")
def softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    return torch.softmax(x, dim=axis)


@register("sigmoid", "torch")
def sigmoid(x: Any, *, backend: Backend) -> Any:
    return torch.sigmoid(x)


@register("log_sigmoid", "torch")
def log_sigmoid(x: Any, *, backend: Backend) -> Any:
    return torch.nn.functional.logsigmoid(x)


@register("entr", "torch")
def entr(p: Any, *, backend: Backend) -> Any:
    return torch.special.entr(p)
