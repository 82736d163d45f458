"""Test helpers on real catalogs, never mocks: temporary lakehouses seeded with real tables.

Example:
    >>> from phlo_lakehouse.testing import temporary_lakehouse
    >>> with temporary_lakehouse(tables=["demo.events"]) as lh:     # doctest: +SKIP
    ...     lh.get_table("demo.events").to_arrow().num_rows
    1000
"""

from phlo_lakehouse.testing.lakehouses import TableSeed, temporary_lakehouse

__all__ = ["TableSeed", "temporary_lakehouse"]
