"""JAX native entries: ``jax.nn`` / ``jax.scipy.special`` where semantics match exactly.

Every entry is held against its generic definition by ``tests/test_dispatch.py``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.scipy.special as jss

from xloss._backend import Backend
from xloss._dispatch import register

# xlogy/xlog1py are not delegated: torch.special.xlogy and jax.scipy.special.xlogy give a
# NaN gradient in y at x = y = 0, where the generic double-where form gives 0.


@register("logsumexp", "jax")
def logsumexp(x: Any, *, axis: Any, keepdims: bool, backend: Backend) -> Any:
    return jss.logsumexp(x, axis=axis, keepdims=keepdims)


@register("log_softmax", "jax")
def log_softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    return jax.nn.log_softmax(x, axis=axis)


@register("softmax", "jax")
def softmax(x: Any, *, axis: int, backend: Backend) -> Any:
    return jax.nn.softmax(x, axis=axis)


@register("sigmoid", "jax")
def sigmoid(x: Any, *, backend: Backend) -> Any:
    return jax.nn.sigmoid(x)


@register("log_sigmoid", "jax")
def log_sigmoid(x: Any, *, backend: Backend) -> Any:
    return jax.nn.log_sigmoid(x)


@register("entr", "jax")
def entr(p: Any, *, backend: Backend) -> Any:
    return jss.entr(p)
