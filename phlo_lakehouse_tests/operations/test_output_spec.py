"""optimize's ``output_spec_id`` after partition evolution, on a real SQLite catalog: files of an
older spec are rewritten into the current (or the given) spec; every output file's partition
record matches its own rows (computed here with pyarrow, not with the package's transforms);
PyIceberg reads the same rows, also through partition pruning; a spec the table lacks is refused
before anything is written."""

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from phlo_lakehouse.demo import demo_rows, seed_demo_table
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse_tests.operations.conftest import rows_of

TABLE = "raw.events"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _evolved(lakehouse):
    """Spec 0: day(event_time) ("event_day"), 3 appends; spec 1: + identity(kind), 3 more."""
    from pyiceberg.transforms import IdentityTransform

    handle = seed_demo_table(lakehouse, TABLE, commits=3, rows_per_commit=60)
    with handle.table.update_spec() as update:
        update.add_field("kind", IdentityTransform(), "kind")
    handle = handle.refresh()
    for i in range(3, 6):
        handle.table.append(demo_rows(i * 60, 60))
    return handle.refresh()


def _files(handle):
    return live_files(handle.table, handle.snapshot).data


def _check_partitions_match_rows(handle) -> None:
    """Each file's partition values are the day (and kind) of every row in it."""
    specs = handle.table.metadata.specs()
    for f in _files(handle):
        rows = pq.read_table(urlparse(f.path).path)
        days = {(t - EPOCH).days for t in rows["event_time"].to_pylist()}
        names = [field.name for field in specs[f.spec_id].fields]
        values = dict(zip(names, f.data_file.partition, strict=True))
        assert days == {values["event_day"]}, f.path
        if "kind" in values:
            assert set(rows["kind"].to_pylist()) == {values["kind"]}, f.path


def test_old_spec_files_are_rewritten_into_the_current_spec(lakehouse):
    handle = _evolved(lakehouse)
    rows = rows_of(handle)
    assert {f.spec_id for f in _files(handle)} == {0, 1}
    clicks = handle.table.scan(row_filter="kind == 'click'").to_arrow().num_rows

    dry = OperationExecutor(lakehouse).run(
        OptimizeOperation(min_input_files=2), TABLE, dry_run=True
    )
    result = OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2), TABLE)

    after = lakehouse.get_table(TABLE)
    assert dry.figures["files_to_rewrite"] == result.figures["files_to_rewrite"]
    assert {f.spec_id for f in _files(after)} == {1}
    assert rows_of(after) == rows
    _check_partitions_match_rows(after)
    # pruning by the new partition field reads exactly the rows a plain filter keeps
    pruned = after.table.scan(row_filter="kind == 'click'").to_arrow()
    assert pruned.num_rows == clicks == pc.sum(pc.equal(after.to_arrow()["kind"], "click")).as_py()
    assert "rows move to another partition spec" in result.details["decode_reasons"]


def test_a_given_output_spec_id_is_the_one_written(lakehouse):
    handle = _evolved(lakehouse)
    rows = rows_of(handle)

    OperationExecutor(lakehouse).run(
        OptimizeOperation(min_input_files=2, output_spec_id=0, rewrite_all=True), TABLE
    )

    after = lakehouse.get_table(TABLE)
    assert {f.spec_id for f in _files(after)} == {0}
    # Iceberg's grouping: the other spec's files form a group of their own, so each day has
    # two files now - one from its spec-0 group, one from the repartitioned group
    assert len(_files(after)) == 8
    assert rows_of(after) == rows
    _check_partitions_match_rows(after)
    OperationExecutor(lakehouse).run(OptimizeOperation(min_input_files=2, output_spec_id=0), TABLE)
    final = lakehouse.get_table(TABLE)
    assert len(_files(final)) == 4 and rows_of(final) == rows


def test_without_evolution_nothing_changes_spec(lakehouse):
    handle = seed_demo_table(lakehouse, TABLE, commits=6, rows_per_commit=60)
    rows = rows_of(handle)
    result = OperationExecutor(lakehouse).run(OptimizeOperation(), TABLE)
    after = lakehouse.get_table(TABLE)
    assert result.committed and {f.spec_id for f in _files(after)} == {0}
    assert rows_of(after) == rows


@pytest.mark.parametrize("spec_id", [7, -1, "1"])
def test_an_unknown_output_spec_is_refused_before_anything_is_written(lakehouse, spec_id):
    handle = _evolved(lakehouse)
    root = Path(urlparse(handle.table.location()).path)
    on_disk = {p for p in root.rglob("*") if p.is_file()}
    with pytest.raises(InvalidInput, match="output_spec_id"):
        OperationExecutor(lakehouse).run(OptimizeOperation(output_spec_id=spec_id), TABLE)
    assert {p for p in root.rglob("*") if p.is_file()} == on_disk
    assert lakehouse.get_table(TABLE).snapshot_id == handle.snapshot_id
