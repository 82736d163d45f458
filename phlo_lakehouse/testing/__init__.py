"""Test helpers on real catalogs, never mocks: temporary lakehouses seeded with real tables.

Example:
    >>> from phlo_lakehouse.testing import temporary_lakehouse
    >>> with temporary_lakehouse(tables=["demo.events"]) as lh:     # doctest: +SKIP
    ...     lh.get_table("demo.events").to_arrow().num_rows
    1000
"""

from typing import Any

from phlo_lakehouse.testing.lakehouses import TableSeed, temporary_lakehouse

__all__ = ["CLITestCase", "TableSeed", "temporary_lakehouse"]


def __getattr__(name: str) -> Any:
    # CLITestCase needs pytest (a test dependency): imported only when asked for.
    if name == "CLITestCase":
        from phlo_lakehouse.testing.cli import CLITestCase

        return CLITestCase
    raise AttributeError(name)
