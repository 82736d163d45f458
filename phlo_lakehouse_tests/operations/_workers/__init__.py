"""Worker processes for the race and crash tests: an appender/deleter that changes a table from
another process while the test process runs an operation, and a crasher that runs one operation and
SIGKILLs itself at a chosen point.

Both are started with ``python -m phlo_lakehouse_tests.operations._workers.<name>``; the tests own
their arguments and their lifetime.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def rows_for(ids: Iterable[int]) -> pa.Table:
    """The demo rows with exactly these event ids (each row is a function of its id)."""
    import pyarrow as pa

    from phlo_lakehouse.demo import demo_rows

    tables = [demo_rows(i, 1) for i in ids]
    if not tables:
        return demo_rows(0, 0)
    return pa.concat_tables(tables)
