"""Generic array-API definitions: the reference every native fast path is held against."""
