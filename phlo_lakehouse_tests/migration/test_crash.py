"""A Hive migration SIGKILLed mid-run (in a worker process, at a deterministic point) and run
again completes: every table exactly once, no duplicate rows, and the Hive source still reads."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.migration import HiveMigration
from phlo_lakehouse_tests.migration.conftest import (
    REPO_ROOT,
    hive_table_names,
    sorted_rows,
    write_hive_parquet_table,
)

pytestmark = [pytest.mark.hive, pytest.mark.spark]
WORKER_TIMEOUT = 120


def _crash(hive_uri: str, selector: str, mode: str, crash: str, nth: int, home: Path | None):
    command = [
        sys.executable,
        "-m",
        "phlo_lakehouse_tests.migration._workers.migrate_crasher",
        "--metastore",
        hive_uri,
        "--selector",
        selector,
        "--mode",
        mode,
        "--crash",
        crash,
        "--nth",
        str(nth),
    ]
    if home is not None:
        command += ["--home", str(home)]
    process = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT
    )
    assert process.returncode == -signal.SIGKILL, (process.stdout, process.stderr[-2000:])


def _two_tables(hive_uri: str, database: str, root: Path) -> dict[str, list[dict]]:
    return {
        name: write_hive_parquet_table(hive_uri, database, name, root, rows_per_file=4 + i)
        for i, name in enumerate(("events", "orders"))
    }


def test_migrate_mode_killed_between_backup_and_publish_is_resumed(
    spark_hive, hive_uri, hive_lakehouse, database, tmp_path
):
    rows = _two_tables(hive_uri, database, tmp_path)
    # The second table's rename to its backup is the crash point: events is done by then.
    _crash(hive_uri, f"{database}.*", "migrate", "after_backup", 2, None)
    names = hive_table_names(hive_uri, database)
    assert names == ["events", "events_backup_", "orders_backup_", "orders_phlo_staging_"]

    migration = HiveMigration(hive_lakehouse, metastore_uri=hive_uri, mode="migrate")
    summary = migration.run([f"{database}.*"])

    assert [(t.source, t.status, t.action) for t in summary.tables] == [
        (f"{database}.events", "skipped", "skip"),
        (f"{database}.orders", "migrated", "resume"),
    ]
    assert hive_table_names(hive_uri, database) == [
        "events",
        "events_backup_",
        "orders",
        "orders_backup_",
    ]
    for name, expected in rows.items():
        migrated = hive_lakehouse.get_table(f"{database}.{name}").to_arrow().to_pylist()
        assert sorted_rows(migrated) == sorted_rows(expected)  # every row once
        backup = spark_hive.sql(f"SELECT * FROM {database}.{name}_backup_")
        assert sorted_rows(backup) == sorted_rows(expected)  # the source still reads
        assert migration.validate_migration(f"{database}.{name}").passed


def test_snapshot_killed_after_staging_is_redone_without_duplicates(
    spark_hive, hive_uri, database, tmp_path
):
    rows = _two_tables(hive_uri, database, tmp_path)
    home = tmp_path / "lakehouse"
    _crash(hive_uri, f"{database}.*", "snapshot", "after_stage", 1, home)
    target = IcebergLakehouse(CatalogSettings.embedded(home))
    assert [t.name for t in target.list_tables()] == ["events_phlo_staging_"]

    summary = HiveMigration(target, metastore_uri=hive_uri).run([f"{database}.*"])

    assert summary.ok and summary.figures["migrated"] == 2, summary.summary()
    assert "drop the staging table" in summary.tables[0].steps[0]
    assert [t.name for t in target.list_tables()] == ["events", "orders"]
    for name, expected in rows.items():
        table = target.get_table(f"{database}.{name}")
        assert sorted_rows(table.to_arrow().to_pylist()) == sorted_rows(expected)
        assert len(table.table.inspect.files()) == 6  # each source file exactly once
        source = spark_hive.sql(f"SELECT * FROM {database}.{name}")
        assert sorted_rows(source) == sorted_rows(expected)
