"""`temporary_lakehouse`: a throw-away embedded SQLite lakehouse with real seeded tables."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from phlo_lakehouse.config import CatalogSettings
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.lakehouse import IcebergLakehouse


@dataclass(frozen=True)
class TableSeed:
    """How to seed one table: name, number of append commits, rows per commit, partitioning."""

    name: str
    commits: int = 2
    rows_per_commit: int = 500
    partitioned: bool = True


@contextmanager
def temporary_lakehouse(
    tables: Sequence[str | TableSeed] = (), *, home: str | Path | None = None
) -> Iterator[IcebergLakehouse]:
    """Yield an `IcebergLakehouse` on a fresh SQLite catalog with ``tables`` seeded.

    Args:
        tables: table names (seeded with defaults) or `TableSeed` specs.
        home: directory to use instead of a new temporary one (kept afterwards).

    Example:
        >>> with temporary_lakehouse([TableSeed("raw.orders", commits=3)]) as lh:  # doctest: +SKIP
        ...     len(lh.get_table("raw.orders").table.snapshots())
        3
    """
    root = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="phlo-lakehouse-"))
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(root))
    try:
        lakehouse.catalog()  # the catalog exists with no tables too (the CLI refuses a missing one)
        for spec in tables:
            seed = spec if isinstance(spec, TableSeed) else TableSeed(spec)
            seed_demo_table(
                lakehouse,
                seed.name,
                commits=seed.commits,
                rows_per_commit=seed.rows_per_commit,
                partitioned=seed.partitioned,
            )
        yield lakehouse
    finally:
        if home is None:
            shutil.rmtree(root, ignore_errors=True)
