"""Row-group stitching: whole row groups copied byte for byte, new footers, same rows and metrics.

Oracles: pyarrow reading the input files themselves (rows, row-group bytes), and the decode
path (PyIceberg's Parquet writer) for the Iceberg metrics a full rewrite computes.
"""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse, InvalidInput
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.operations import OperationExecutor
from phlo_lakehouse.operations.live_files import live_files
from phlo_lakehouse.operations.optimize import OptimizeOperation
from phlo_lakehouse.operations.stitch import MIN_ROW_GROUP_PROPERTY, STITCH_PROPERTY
from phlo_lakehouse.storage.listing import normalize_location
from phlo_lakehouse_tests.operations.conftest import rows_of


def local(uri: str) -> str:
    return normalize_location(uri)[2]


def seeded(lakehouse, name="raw.events", **properties):
    handle = seed_demo_table(lakehouse, name, commits=6, rows_per_commit=300)
    if properties:
        with handle.table.transaction() as tx:
            tx.set_properties(properties)
    return lakehouse.get_table(name)


def inputs_by_partition(handle) -> dict[tuple, list[str]]:
    out: dict[tuple, list[str]] = {}
    for f in live_files(handle.table, handle.snapshot).data:
        out.setdefault(tuple(f.data_file.partition), []).append(f.path)
    return {k: sorted(v) for k, v in out.items()}


def row_group_bytes(path: str) -> list[bytes]:
    """The raw bytes of each row group, read with pyarrow's metadata (not our footer code)."""
    metadata = pq.read_metadata(path)
    data = open(path, "rb").read()
    out = []
    for r in range(metadata.num_row_groups):
        group = metadata.row_group(r)
        starts = []
        for c in range(group.num_columns):
            column = group.column(c)
            dictionary = column.dictionary_page_offset
            start = dictionary if column.has_dictionary_page and dictionary else 0
            starts.append(min(x for x in (start, column.data_page_offset) if x))
        end = max(s + group.column(c).total_compressed_size for c, s in enumerate(starts))
        out.append(data[min(starts) : end])
    return out


def test_stitched_files_hold_the_inputs_row_groups_byte_for_byte(lakehouse):
    handle = seeded(lakehouse)
    inputs = inputs_by_partition(handle)
    expected_rows = rows_of(handle)

    result = OperationExecutor(lakehouse).run(OptimizeOperation(stitch="always"), "raw.events")

    assert result.details["stitched_groups"] == 4 and result.details["decoded_groups"] == 0
    after = lakehouse.get_table("raw.events")
    assert rows_of(after) == expected_rows
    assert after.snapshot.summary.operation.value == "replace"
    outputs = live_files(after.table, after.snapshot).data
    assert len(outputs) == 4
    for out in outputs:
        paths = inputs[tuple(out.data_file.partition)]
        # same rows in the same order as the inputs, read by pyarrow alone
        stitched = pq.read_table(local(out.path))
        originals = pa.concat_tables([pq.read_table(local(p)) for p in paths])
        assert stitched.to_pylist() == originals.to_pylist()
        # every row group copied byte for byte, none lost
        assert row_group_bytes(local(out.path)) == [
            b for p in paths for b in row_group_bytes(local(p))
        ]
        metadata = pq.read_metadata(local(out.path))
        assert metadata.num_rows == out.data_file.record_count
        assert out.data_file.file_size_in_bytes == len(open(local(out.path), "rb").read())


def test_stitched_metrics_equal_what_a_full_rewrite_computes(tmp_path):
    """Two identical tables: one stitched, one decoded by PyIceberg's writer."""
    stitched_lh = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "a"))
    decoded_lh = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "b"))
    for lh, mode in ((stitched_lh, "always"), (decoded_lh, "never")):
        seeded(lh)
        result = OperationExecutor(lh).run(OptimizeOperation(stitch=mode), "raw.events")
        assert result.details["stitched_groups"] == (4 if mode == "always" else 0)

    def metrics(lh):
        handle = lh.get_table("raw.events")
        out = {}
        for f in live_files(handle.table, handle.snapshot).data:
            d = f.data_file
            out[tuple(d.partition)] = (
                d.record_count,
                dict(d.value_counts),
                dict(d.null_value_counts),
                dict(d.lower_bounds),
                dict(d.upper_bounds),
            )
        return out

    assert metrics(stitched_lh) == metrics(decoded_lh)
    # column sizes are exact for the stitched file: the inputs' column chunks, summed
    handle = stitched_lh.get_table("raw.events")
    for f in live_files(handle.table, handle.snapshot).data:
        md = pq.read_metadata(local(f.path))
        sizes: dict[str, int] = {}
        for r in range(md.num_row_groups):
            for c in range(md.num_columns):
                col = md.row_group(r).column(c)
                sizes[col.path_in_schema] = sizes.get(col.path_in_schema, 0) + (
                    col.total_compressed_size
                )
        assert sorted(f.data_file.column_sizes.values()) == sorted(sizes.values())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("sort", "reorders rows"),
        ("codec", "compressed with the table's codec"),
        ("schema", "current write schema"),
        ("small", "row groups smaller than"),
        ("never", "stitching disabled"),
    ],
)
def test_unsafe_or_unwanted_groups_take_the_decode_path(lakehouse, change, reason):
    handle = seeded(lakehouse)
    mode = "always"
    kwargs: dict = {}
    if change == "sort":
        kwargs = {"strategy": "sort", "sort_by": ["event_id"]}
    elif change == "codec":
        with handle.table.transaction() as tx:
            tx.set_properties({"write.parquet.compression-codec": "snappy"})
    elif change == "schema":
        from pyiceberg.types import StringType

        with handle.table.update_schema() as update:
            update.add_column("note", StringType())
    elif change == "small":
        mode = "auto"
    elif change == "never":
        with handle.table.transaction() as tx:
            tx.set_properties({STITCH_PROPERTY: "never"})
        mode = None
    expected = rows_of(lakehouse.get_table("raw.events"))

    op = OptimizeOperation(stitch=mode, **kwargs)
    result = OperationExecutor(lakehouse).run(op, "raw.events")

    assert result.committed and result.details["stitched_groups"] == 0
    assert any(reason in r for r in result.details["decode_reasons"]), result.details
    assert rows_of(lakehouse.get_table("raw.events")) == expected


def test_files_with_deletes_to_apply_are_never_stitched(lakehouse):
    """(Compaction with Spark's position deletes: test_spark_stitch.py.)"""
    from phlo_lakehouse.operations.stitch import plan_stitch

    handle = seeded(lakehouse)
    files = live_files(handle.table, handle.snapshot).data[:3]
    plan, reason = plan_stitch(handle.table, files, True, "binpack", "always")
    assert plan is None and reason == "deletes to apply"
    plan, reason = plan_stitch(handle.table, files, False, "binpack", "always")
    assert plan is not None and reason == ""


def test_auto_stitches_when_row_groups_are_large_enough(lakehouse):
    seeded(lakehouse, **{MIN_ROW_GROUP_PROPERTY: "1"})
    result = OperationExecutor(lakehouse).run(OptimizeOperation(), "raw.events")
    assert result.details["stitched_groups"] == 4


def test_a_bad_stitch_mode_is_rejected_before_anything_changes(lakehouse):
    with pytest.raises(InvalidInput, match="stitch"):
        OptimizeOperation(stitch="sometimes")
    handle = seeded(lakehouse, **{STITCH_PROPERTY: "sometimes"})
    with pytest.raises(InvalidInput, match=STITCH_PROPERTY):
        OperationExecutor(lakehouse).run(OptimizeOperation(), "raw.events")
    assert lakehouse.get_table("raw.events").snapshot_id == handle.snapshot_id


def test_a_failed_stitch_leaves_no_file_behind(lakehouse, monkeypatch):
    handle = seeded(lakehouse)
    before = {p.name for p in _data_files_on_disk(handle)}

    import phlo_lakehouse.operations.stitch as stitch

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(stitch, "encode_footer", broken)
    from phlo_lakehouse.errors import OperationFailed

    with pytest.raises(OperationFailed, match="disk full"):
        OperationExecutor(lakehouse).run(OptimizeOperation(stitch="always"), "raw.events")
    assert {p.name for p in _data_files_on_disk(handle)} == before
    assert lakehouse.get_table("raw.events").snapshot_id == handle.snapshot_id


def _data_files_on_disk(handle):
    from pathlib import Path

    return [p for p in Path(local(handle.table.location()), "data").rglob("*.parquet")]


def test_copy_through_file_io_matches_the_kernel_copy(lakehouse, monkeypatch):
    """The non-local path (object stores) streams through FileIO: same bytes."""
    handle = seeded(lakehouse)
    inputs = inputs_by_partition(handle)
    import phlo_lakehouse.operations.stitch as stitch

    monkeypatch.setattr(stitch, "_local", lambda path: None)
    result = OperationExecutor(lakehouse).run(OptimizeOperation(stitch="always"), "raw.events")
    assert result.details["stitched_groups"] == 4
    after = lakehouse.get_table("raw.events")
    for out in live_files(after.table, after.snapshot).data:
        paths = inputs[tuple(out.data_file.partition)]
        assert row_group_bytes(local(out.path)) == [
            b for p in paths for b in row_group_bytes(local(p))
        ]


def _stitch_by_hand(paths, out_path):
    """The footer module alone: copy every row group of ``paths`` and write the new footer."""
    from phlo_lakehouse.operations.parquet_footer import (
        MAGIC,
        encode_footer,
        read_footer,
        rebased_row_group,
        verify_footer,
    )

    footers = []
    for p in paths:
        with open(p, "rb") as f:
            footers.append(read_footer(f, len(open(p, "rb").read())))
    groups, spans = [], []
    with open(out_path, "wb") as out:
        out.write(MAGIC)
        for p, footer in zip(paths, footers, strict=True):
            data = open(p, "rb").read()
            for span in footer.row_groups:
                groups.append(rebased_row_group(span, out.tell()))
                spans.append(span)
                out.write(data[span.start : span.start + span.length])
        encoded = encode_footer(footers[0], groups)
        verify_footer(encoded, pq.read_metadata(paths[0]).schema, spans)
        out.write(encoded)


def test_page_indexes_and_bloom_filters_are_dropped_and_the_file_stays_valid(tmp_path):
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    paths = []
    for i in range(3):
        rows = pa.table(
            {"id": list(range(i * 100, i * 100 + 100)), "name": [f"n{j % 7}" for j in range(100)]},
            schema=schema,
        )
        path = str(tmp_path / f"in{i}.parquet")
        pq.write_table(
            rows,
            path,
            row_group_size=30,
            write_page_index=True,
            data_page_size=64,
            bloom_filter_options={"name": {"ndv": 10, "fpp": 0.01}},
        )
        paths.append(path)
    assert pq.read_metadata(paths[0]).row_group(0).column(0).has_offset_index

    out = str(tmp_path / "out.parquet")
    _stitch_by_hand(paths, out)

    stitched = pq.ParquetFile(out)
    assert stitched.metadata.num_row_groups == 12
    assert not stitched.metadata.row_group(0).column(0).has_offset_index
    assert not stitched.metadata.row_group(0).column(0).has_column_index
    assert stitched.read().equals(pa.concat_tables([pq.read_table(p) for p in paths]))
    # a filtered read uses the (rebased) statistics of every row group
    got = pq.read_table(out, filters=[("id", ">=", 250)])["id"].to_pylist()
    assert got == list(range(250, 300))


def test_footers_the_thrift_codec_cannot_re_encode_are_refused(tmp_path):
    from phlo_lakehouse.operations.parquet_footer import FooterError, read_footer

    path = tmp_path / "int8.parquet"
    pq.write_table(pa.table({"small": pa.array([1, 2], pa.int8())}), path)
    with open(path, "rb") as f, pytest.raises(FooterError, match="logical type"):
        read_footer(f, path.stat().st_size)
    text = tmp_path / "text.txt"
    text.write_bytes(b"not parquet at all")
    with open(text, "rb") as f, pytest.raises(FooterError, match="not a plain Parquet"):
        read_footer(f, text.stat().st_size)
