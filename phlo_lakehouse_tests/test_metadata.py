"""Table statistics: the summary fast path and the manifest full path agree with inspect.files()."""

import pyarrow.compute as pc

from phlo_lakehouse import MetadataCollector
from phlo_lakehouse.demo import seed_demo_table


def test_fast_path_matches_the_files_metadata_table(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.events", commits=5, rows_per_commit=200)
    files = handle.table.inspect.files()
    stats = lakehouse.collect_stats("raw.events")

    assert stats.mode == "fast"
    assert stats.row_count == 1000 == pc.sum(files["record_count"]).as_py()
    assert stats.file_count == files.num_rows
    assert stats.size_bytes == pc.sum(files["file_size_in_bytes"]).as_py()
    assert stats.snapshot_count == 5
    assert stats.delete_file_count == 0
    assert stats.partition_count is None and "partition_count" not in stats.exact
    assert {"row_count", "file_count", "size_bytes"} <= stats.exact


def test_full_path_adds_partitions_small_files_and_histogram(lakehouse):
    seed_demo_table(lakehouse, "raw.events", commits=3, rows_per_commit=100)
    fast = lakehouse.collect_stats("raw.events")
    full = lakehouse.collect_stats("raw.events", full=True)

    assert full.mode == "full"
    for name in ("row_count", "file_count", "size_bytes", "delete_file_count", "snapshot_count"):
        assert getattr(full, name) == getattr(fast, name), name
    assert full.partition_count == 4  # the demo rows span four days
    assert full.small_file_count == full.file_count  # KB files against a 512 MiB target
    assert full.small_file_ratio == 1.0
    assert sum(full.file_size_histogram.values()) == full.file_count
    assert full.file_size_histogram["<1MiB"] == full.file_count
    assert "partition_count" in full.exact


def test_small_file_threshold_follows_the_table_target_size(lakehouse):
    seed_demo_table(
        lakehouse,
        "raw.events",
        commits=2,
        rows_per_commit=100,
        properties={"write.target-file-size-bytes": "1000"},
    )
    full = lakehouse.collect_stats("raw.events", full=True)
    assert full.target_file_size == 1000
    files = lakehouse.get_table("raw.events").table.inspect.files()
    expected_small = sum(1 for s in files["file_size_in_bytes"].to_pylist() if s < 750)
    assert full.small_file_count == expected_small


def test_stats_follow_the_ref(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.events", commits=2, rows_per_commit=10)
    handle.table.manage_snapshots().create_tag(handle.snapshot_id, "before").commit()
    handle.table.append(handle.to_arrow())
    tagged = lakehouse.collect_stats("raw.events", "before", full=True)
    head = lakehouse.collect_stats("raw.events", full=True)
    assert (tagged.row_count, head.row_count) == (20, 40)
    assert tagged.snapshot_id != head.snapshot_id


def test_empty_table_reports_zeros(lakehouse):
    lakehouse.catalog().create_namespace("raw")
    from phlo_lakehouse.demo import demo_schema

    lakehouse.catalog().create_table("raw.empty", schema=demo_schema())
    fast = lakehouse.collect_stats("raw.empty")
    full = MetadataCollector(full=True).collect(lakehouse.get_table("raw.empty"))
    assert (fast.row_count, fast.file_count, fast.snapshot_id) == (0, 0, None)
    assert (full.file_count, full.partition_count, full.small_file_ratio) == (0, 0, 0.0)


def test_stats_serialize_to_json(lakehouse):
    import json

    seed_demo_table(lakehouse, "raw.events", commits=1, rows_per_commit=10)
    data = json.loads(json.dumps(lakehouse.collect_stats("raw.events", full=True).to_dict()))
    assert data["row_count"] == 10
    assert data["mode"] == "full"
    assert "partition_count" in data["exact"]
