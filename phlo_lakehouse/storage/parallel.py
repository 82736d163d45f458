"""Reading many storage objects at once: a thread pool sized for the storage it reads.

Example:
    >>> parallel_map(len, ["a", "bb"], threads=2)
    [1, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    pass


READ_THREADS = 8


T = TypeVar("T")


R = TypeVar("R")


def parallel_map(fn: Callable[[T], R], items: Sequence[T], threads: int = READ_THREADS) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``threads`` threads, in order."""
    if len(items) < 2 or threads < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(fn, items))
