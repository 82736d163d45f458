"""pytest fixtures for plugin authors, registered through the ``pytest11`` entry point.

Installing phlo-lakehouse makes these available in any test suite:

- ``tmp_lakehouse``: an empty `IcebergLakehouse` on a temporary SQLite catalog;
- ``demo_lakehouse``: the same with ``demo.events`` seeded (real files, real snapshots).

Example::

    def test_my_plugin(demo_lakehouse):
        assert demo_lakehouse.collect_stats("demo.events").row_count == 1000
"""

from collections.abc import Iterator

import pytest

from phlo_lakehouse.lakehouse import IcebergLakehouse
from phlo_lakehouse.testing.lakehouses import TableSeed, temporary_lakehouse


@pytest.fixture
def tmp_lakehouse(tmp_path) -> Iterator[IcebergLakehouse]:
    """An empty lakehouse on a temporary SQLite catalog and local warehouse."""
    with temporary_lakehouse(home=tmp_path / "lakehouse") as lakehouse:
        yield lakehouse


@pytest.fixture
def demo_lakehouse(tmp_path) -> Iterator[IcebergLakehouse]:
    """A lakehouse with ``demo.events`` seeded: 2 commits of 500 rows, partitioned by day."""
    with temporary_lakehouse([TableSeed("demo.events")], home=tmp_path / "lakehouse") as lakehouse:
        yield lakehouse
