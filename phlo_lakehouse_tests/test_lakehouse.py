"""IcebergLakehouse on the embedded SQLite catalog: table access, refs and errors."""

import socket

import pyarrow as pa
import pytest

from phlo_lakehouse import (
    CatalogSettings,
    CatalogUnavailable,
    IcebergLakehouse,
    InvalidConfig,
    InvalidIdentifier,
    InvalidRefName,
    NamespaceNotFound,
    RefNotFound,
    TableIdentifier,
    TableNotFound,
)
from phlo_lakehouse.demo import demo_rows, seed_demo_table


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_table_branch_reads_its_own_state_which_differs_from_main(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.events", commits=2, rows_per_commit=50)
    table = handle.table
    table.manage_snapshots().create_branch(table.current_snapshot().snapshot_id, "dev").commit()
    table.append(demo_rows(1000, 25), branch="dev")

    main = lakehouse.get_table("raw.events")
    dev = lakehouse.get_table("raw.events", ref="dev")

    assert main.to_arrow().num_rows == 100
    assert dev.to_arrow().num_rows == 125
    assert dev.snapshot_id != main.snapshot_id
    assert dev.ref_kind == "branch"
    assert set(dev.to_arrow()["event_id"].to_pylist()) - set(
        main.to_arrow()["event_id"].to_pylist()
    ) == set(range(1000, 1025))


def test_table_tag_pins_an_old_state(lakehouse):
    handle = seed_demo_table(lakehouse, "raw.events", commits=1, rows_per_commit=10)
    handle.table.manage_snapshots().create_tag(handle.snapshot_id, "v1").commit()
    handle.table.append(demo_rows(10, 5))
    assert lakehouse.get_table("raw.events", ref="v1").to_arrow().num_rows == 10
    assert lakehouse.get_table("raw.events").to_arrow().num_rows == 15
    assert lakehouse.get_table("raw.events", ref="v1").ref_kind == "tag"


def test_default_ref_comes_from_settings(tmp_path):
    lh = IcebergLakehouse(CatalogSettings.embedded(tmp_path, default_ref="dev"))
    handle = seed_demo_table(lh.__class__(CatalogSettings.embedded(tmp_path)), "raw.t", commits=1)
    handle.table.manage_snapshots().create_branch(handle.snapshot_id, "dev").commit()
    assert lh.get_table("raw.t").ref == "dev"


def test_listing_namespaces_and_tables(lakehouse):
    seed_demo_table(lakehouse, "raw.a", commits=1, rows_per_commit=1)
    seed_demo_table(lakehouse, "raw.b", commits=1, rows_per_commit=1)
    seed_demo_table(lakehouse, "mart.sales.c", commits=1, rows_per_commit=1)
    assert lakehouse.list_namespaces() == [("mart",), ("mart", "sales"), ("raw",)]
    assert [str(t) for t in lakehouse.list_tables()] == ["mart.sales.c", "raw.a", "raw.b"]
    assert lakehouse.list_tables("raw") == [
        TableIdentifier(("raw",), "a"),
        TableIdentifier(("raw",), "b"),
    ]
    assert [str(t) for t in lakehouse.resolve_tables(["raw.*", "mart.sales.c"])] == [
        "mart.sales.c",
        "raw.a",
        "raw.b",
    ]
    assert lakehouse.table_exists("raw.a")
    assert not lakehouse.table_exists("raw.zzz")
    assert not lakehouse.table_exists("nope.zzz")


def test_unknown_table_namespace_and_ref_have_their_own_errors(lakehouse):
    seed_demo_table(lakehouse, "raw.events", commits=1, rows_per_commit=1)
    with pytest.raises(TableNotFound) as table_err:
        lakehouse.get_table("raw.nope")
    with pytest.raises(NamespaceNotFound) as ns_err:
        lakehouse.get_table("nope.events")
    with pytest.raises(NamespaceNotFound):
        lakehouse.list_tables("nope")
    with pytest.raises(RefNotFound) as ref_err:
        lakehouse.get_table("raw.events", ref="feature")
    with pytest.raises(TableNotFound):
        lakehouse.resolve_tables(["raw.nope"])
    for err in (table_err.value, ns_err.value, ref_err.value):
        assert err.hint
        assert "\n" not in str(err)
    assert "refs: main" in str(ref_err.value)


def test_malformed_name_and_ref_fail_before_any_catalog_access(tmp_path):
    lh = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "untouched"))
    with pytest.raises(InvalidIdentifier):
        lh.get_table("no_namespace")
    with pytest.raises(InvalidRefName):
        lh.get_table("raw.events", ref="bad ref")
    assert not (tmp_path / "untouched").exists()


def test_unreachable_postgres_catalog_raises_catalog_unavailable(tmp_path):
    settings = CatalogSettings(
        type="sql",
        uri=f"postgresql+psycopg2://postgres@127.0.0.1:{_closed_port()}/lakehouse",
        warehouse=f"file://{tmp_path}/w",
    )
    with pytest.raises(CatalogUnavailable) as info:
        IcebergLakehouse(settings).list_tables()
    assert "running" in info.value.hint


@pytest.mark.parametrize("kind", ["rest", "nessie"])
def test_unreachable_http_catalogs_raise_catalog_unavailable(kind):
    settings = CatalogSettings(type=kind, uri=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(CatalogUnavailable):
        IcebergLakehouse(settings).get_table("raw.events")


def test_nessie_refs_on_a_non_nessie_catalog_is_a_config_error(lakehouse):
    with pytest.raises(InvalidConfig):
        lakehouse.nessie  # noqa: B018


def test_get_table_returns_rows_written_through_the_catalog(lakehouse):
    lakehouse.catalog().create_namespace("raw")
    table = lakehouse.catalog().create_table("raw.kv", schema=pa.schema([("k", pa.int64())]))
    table.append(pa.table({"k": [1, 2, 3]}))
    assert sorted(lakehouse.get_table("raw.kv").to_arrow()["k"].to_pylist()) == [1, 2, 3]
