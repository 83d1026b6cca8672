"""Chunking iterables into lists (dependency-free, so database-free code can use it cheaply)."""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def batched(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of at most ``size`` items, in order; the last may be shorter."""
    it = iter(iterable)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
