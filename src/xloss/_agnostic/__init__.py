"""Generic array-API definitions: the reference every native fast path is held against."""

from . import special  # noqa: F401  (registers the generic primitives)
