"""Size and value limits that input must meet before medkg writes it.

Neo4j refuses a node whose indexed string property is larger than its index key
limit, and it refuses it at commit, for the whole transaction: one oversized id
in a batch of 10,000 rows would fail all of them. The loaders check every value
against these limits first, so the bad row is rejected with its file and line
and the others are written.

* :data:`INDEX_KEY_MAX_BYTES`: the largest string a RANGE index (``id``
  uniqueness constraints, the ``name`` indexes) accepts, in UTF-8 bytes.
  Measured on Neo4j 5.26 (``range-1.0``): 8,164 bytes are stored, 8,165 are
  refused ("Property value is too large to index"), whatever the characters'
  width (``tests/integration/test_bad_input.py`` checks it against the server).
* :data:`MAX_VALUE_CHARS`: the cap on any other value (one cell of a curated
  file, a document's ``source``): 131,072 characters, Python's ``csv`` field
  limit. A longer cell is nearly always an unclosed quote that swallowed the
  rest of the file.
"""

from __future__ import annotations

import math
from typing import Any

#: Neo4j 5 RANGE index key limit for one string property, in UTF-8 bytes (measured, see the module docstring)
INDEX_KEY_MAX_BYTES = 8164
#: the cap on a non-indexed string value, in characters (``csv.field_size_limit()``'s default)
MAX_VALUE_CHARS = 131_072


def fits_index(value: str) -> bool:
    """Whether ``value`` fits :data:`INDEX_KEY_MAX_BYTES` (encoded only when it might not)."""
    return len(value) * 4 <= INDEX_KEY_MAX_BYTES or len(value.encode("utf-8", "surrogatepass")) <= INDEX_KEY_MAX_BYTES


def index_key_problem(value: str, what: str) -> str | None:
    """Why ``value`` cannot be an index key (``what`` names it in the message), or ``None`` if it can."""
    if not fits_index(value):
        size = len(value.encode("utf-8", "surrogatepass"))
        return (f"{what} is {size:,} bytes (UTF-8); the limit is {INDEX_KEY_MAX_BYTES:,} bytes "
                "(Neo4j's index key limit: ids and names are indexed)")
    return None


def value_problem(value: Any, what: str) -> str | None:
    """Why a non-indexed property value is refused (too long, NaN or infinite), or ``None``.

    Lists are checked element by element.
    """
    kind = type(value)
    if kind is str:
        if len(value) <= MAX_VALUE_CHARS:
            return None
        return f"{what} has {len(value):,} characters; the limit is {MAX_VALUE_CHARS:,} for one value"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{what} is {value!r}: NaN and ±infinity are refused (expected a finite number)"
    if isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            problem = value_problem(item, f"{what}[{k}]")
            if problem:
                return problem
        return None
    if isinstance(value, str):  # a str subclass
        return value_problem(str(value), what)
    return None
