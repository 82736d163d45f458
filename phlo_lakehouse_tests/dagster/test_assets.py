"""External asset specs for lakehouse tables, and kinds on the maintenance ops."""

import dagster as dg
import pytest

from phlo_lakehouse import CatalogSettings, InvalidInput
from phlo_lakehouse.dagster import lakehouse_maintenance_definitions, table_asset_specs
from phlo_lakehouse.dagster.assets import catalog_kind
from phlo_lakehouse.demo import seed_demo_table


def test_specs_without_a_lakehouse_read_nothing_and_refuse_wildcards(tmp_path):
    settings = CatalogSettings.embedded(tmp_path / "never-created")
    (spec,) = table_asset_specs(tables=["raw.events"], settings=settings, group_name="raw")
    assert spec.key == dg.AssetKey(["raw", "events"])
    assert spec.kinds == {"iceberg", "sqlite"}
    assert spec.group_name == "raw"
    assert spec.metadata["dagster/table_name"] == "lakehouse.raw.events"
    assert "dagster/column_schema" not in spec.metadata
    assert not (tmp_path / "never-created").exists()
    with pytest.raises(InvalidInput, match="literal"):
        table_asset_specs(tables=["raw.*"], settings=settings)


def test_specs_from_a_lakehouse_carry_the_schema_and_the_comment(resource):
    lakehouse = resource.get_lakehouse()
    handle = seed_demo_table(lakehouse, "raw.events", commits=1, rows_per_commit=5)
    seed_demo_table(lakehouse, "raw.clicks", commits=1, rows_per_commit=5)
    with handle.table.transaction() as tx:
        tx.set_properties(comment="Click stream, one row per event.")
    specs = {s.key: s for s in table_asset_specs(tables=["raw.*"], lakehouse=resource)}
    assert set(specs) == {dg.AssetKey(["raw", "clicks"]), dg.AssetKey(["raw", "events"])}
    events = specs[dg.AssetKey(["raw", "events"])]
    assert events.description == "Click stream, one row per event."
    schema = handle.refresh().table.schema()
    columns = events.metadata["dagster/column_schema"].columns
    assert [(c.name, c.type) for c in columns] == [
        (f.name, str(f.field_type)) for f in schema.fields
    ]
    assert [c.constraints.nullable for c in columns] == [not f.required for f in schema.fields]
    defs = dg.Definitions(assets=list(specs.values()))  # valid external assets
    assert defs.get_repository_def().asset_graph.get(events.key).is_external


@pytest.mark.parametrize(
    ("settings", "kind"),
    [
        ({"type": "sql", "uri": "postgresql+psycopg2://u@h/db"}, "postgres"),
        ({"type": "sql", "uri": "sqlite:////tmp/x.db"}, "sqlite"),
        ({"type": "nessie", "uri": "http://127.0.0.1:19120"}, "nessie"),
        ({"type": "glue"}, "glue"),
        ({"type": "hive", "uri": "thrift://h:9083"}, "hive"),
    ],
)
def test_catalog_kind(settings, kind):
    assert catalog_kind(CatalogSettings(warehouse="s3://bucket/wh", **settings)) == kind


def test_maintenance_ops_use_kinds_not_the_old_kind_tag():
    (job,) = [j for j in lakehouse_maintenance_definitions().jobs if j.name == "lakehouse_vacuum"]
    op = job.graph.node_named("lakehouse_vacuum__vacuum").definition
    assert op.tags.get("dagster/kind/iceberg") == ""
    assert "kind" not in op.tags


def test_the_demo_asset_is_an_iceberg_table_on_the_embedded_catalog():
    from phlo_lakehouse.definitions import defs

    node = defs.get_repository_def().asset_graph.get(dg.AssetKey(["demo", "events"]))
    assert {"iceberg", "sqlite"} <= set(node.kinds)
    assert node.metadata["dagster/table_name"] == "lakehouse.demo.events"
