"""Generic array-API definitions: the reference every native fast path is held against."""

from . import info, special  # noqa: F401  (registers the generic definitions)
