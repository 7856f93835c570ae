"""Native fast paths keyed by backend, with the generic array-API definition as fallback.

A backend registers a native implementation of an operation with :func:`register`;
it receives the same arguments as the generic definition plus ``backend=`` and returns
``NotImplemented`` for any argument combination where it is not exactly equivalent.
The generic definition (:func:`register_generic`) is always present, is what every
other namespace runs, and is the reference the registry test holds each native entry
against. Backend modules are imported lazily, the first time an array of that library
reaches a call, so ``import xloss`` imports no framework.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from xloss._backend import Backend

__all__ = ["call", "generic", "native", "native_entries", "register", "register_generic"]

_GENERIC: dict[str, Callable[..., Any]] = {}
_NATIVE: dict[tuple[str, str], Callable[..., Any]] = {}
# Per library, the modules holding its native entries (imported together, lazily).
_BACKEND_MODULES: dict[str, tuple[str, ...]] = {
    "torch": ("xloss._dispatch._torch", "xloss._dispatch._torch_info"),
    "jax": ("xloss._dispatch._jax", "xloss._dispatch._jax_info"),
    "numpy": ("xloss._dispatch._numpy",),
    "cupy": ("xloss._dispatch._cupy",),
}
_loaded: set[str] = set()


def register(name: str, kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the native ``name`` for arrays of library ``kind``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        _NATIVE[name, kind] = fn
        return fn

    return decorate


def register_generic(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the generic array-API definition of ``name`` (takes ``backend=``)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        _GENERIC[name] = fn
        return fn

    return decorate


def _load(kind: str) -> None:
    _loaded.add(kind)
    for module in _BACKEND_MODULES.get(kind, ()):
        importlib.import_module(module)


def _tracing(kind: str) -> bool:
    # An import cannot be traced by torch.compile; the generic definition can, and equals
    # the native one, so a first call made inside a compiled region simply runs it.
    return kind == "torch" and sys.modules["torch"].compiler.is_compiling()


def native(name: str, kind: str) -> Callable[..., Any] | None:
    """The native implementation of ``name`` for ``kind``, or ``None``."""
    if kind not in _loaded:
        if _tracing(kind):
            return None
        _load(kind)
    return _NATIVE.get((name, kind))


def generic(name: str) -> Callable[..., Any]:
    """The generic array-API definition of ``name``."""
    return _GENERIC[name]


def call(name: str, *args: Any, backend: Backend, **kwargs: Any) -> Any:
    """Run the native ``name`` for ``backend`` if it accepts the arguments, else the generic."""
    kind = backend.kind
    fn = _NATIVE.get((name, kind)) if kind in _loaded else native(name, kind)
    if fn is not None:
        out = fn(*args, backend=backend, **kwargs)
        if out is not NotImplemented:
            return out
    return _GENERIC[name](*args, backend=backend, **kwargs)


def load_imported() -> None:
    """Load the native entries of every framework that is already imported (einops-style).

    Called once when xloss is imported, so that a first call made inside
    ``torch.compile`` already finds the torch entries.
    """
    for kind, module in (("torch", "torch"), ("jax", "jax"), ("cupy", "cupy")):
        if module in sys.modules and kind not in _loaded:
            _load(kind)


def native_entries(kind: str) -> dict[str, Callable[..., Any]]:
    """Every native entry registered for ``kind`` (importing that backend's module)."""
    if kind not in _loaded:
        _load(kind)
    return {name: fn for (name, k), fn in _NATIVE.items() if k == kind}
