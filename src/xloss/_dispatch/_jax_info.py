"""JAX native entries for the information-theory functions on logits (custom backward)."""

from __future__ import annotations
