"""``schema_migrator`` ``lakehouse`` resolved through Phlo's capability registry and used the way
``phlo schema-migrate`` uses a migrator: diff a desired normalized schema, apply the plan."""

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse_tests.phlo_adapter.conftest import require_phlo, sorted_rows

require_phlo()

from phlo.capabilities.specs import FieldSpec, NormalizedSchema  # noqa: E402
from phlo.schema_migration.planning import SchemaMigrationInstructions  # noqa: E402

TABLE = "demo.events"


@pytest.fixture
def migrator(tmp_path, monkeypatch):
    from phlo.capabilities.discovery import discover_capabilities
    from phlo.capabilities.registry import clear_all_capabilities
    from phlo.capabilities.resolver import resolve_capability

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHLO_LAKEHOUSE_HOME", str(tmp_path / "lakehouse"))
    monkeypatch.setenv("PHLO_TELEMETRY_PATH", str(tmp_path / "events.jsonl"))
    monkeypatch.setenv("PLUGINS_WHITELIST", '["lakehouse"]')
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lakehouse"))
    seed_demo_table(lakehouse, TABLE, commits=2, rows_per_commit=20)
    clear_all_capabilities()
    discover_capabilities()
    resolved = resolve_capability("schema_migrator", "lakehouse")
    assert resolved is not None
    yield resolved.provider, lakehouse
    clear_all_capabilities()


def _current(lakehouse):
    from phlo_lakehouse.phlo_adapter.schema_migrator import dtype_of

    schema = lakehouse.get_table(TABLE).table.schema()
    return [FieldSpec(f.name, dtype_of(f.field_type), not f.required) for f in schema.fields]


def _schema(fields):
    return NormalizedSchema(fields=list(fields))


def test_no_difference_is_an_empty_plan(migrator):
    provider, lakehouse = migrator
    plan = provider.diff_schema(table_name=TABLE, desired=_schema(_current(lakehouse)))
    assert plan.changes == [] and plan.classification == "safe"
    assert provider.apply_plan(plan=plan)["status"] == "noop"


def test_add_rename_widen_and_relax_apply_in_one_commit(migrator):
    provider, lakehouse = migrator
    rows = sorted_rows(lakehouse, TABLE)
    before = lakehouse.get_table(TABLE).table.metadata
    fields = {f.name: f for f in _current(lakehouse)}
    desired = []
    for f in fields.values():
        if f.name == "kind":
            desired.append(FieldSpec("event_kind", f.dtype, True))
        else:
            desired.append(f)
    desired.append(FieldSpec("country", "string", True))
    plan = provider.diff_schema(
        table_name=TABLE,
        desired=_schema(desired),
        instructions=SchemaMigrationInstructions(renames={"kind": "event_kind"}),
    )
    kinds = sorted((c.change_type, c.field_name) for c in plan.changes)
    assert ("add", "country") in kinds and ("rename", "kind") in kinds
    result = provider.apply_plan(plan=plan, approved=True)
    assert result["status"] == "applied"
    after = lakehouse.get_table(TABLE).table
    names = [f.name for f in after.schema().fields]
    assert "country" in names and "event_kind" in names and "kind" not in names
    # One schema commit: one new schema, the data untouched.
    assert len(after.metadata.schemas) == len(before.schemas) + 1
    assert after.metadata.current_snapshot_id == before.current_snapshot_id
    assert len(sorted_rows(lakehouse, TABLE)) == len(rows)
    history = provider.get_schema_history(table_name=TABLE)
    assert history[0]["current"] and history[0]["schema_id"] == after.schema().schema_id
    assert any(f["name"] == "country" for f in history[0]["fields"])


def test_a_promotion_iceberg_cannot_make_is_breaking_and_refused_whole(migrator):
    provider, lakehouse = migrator
    before = lakehouse.get_table(TABLE).table.metadata_location
    desired = []
    for f in _current(lakehouse):
        if f.dtype in ("int32", "int64") and f.name != "event_time":
            desired.append(FieldSpec(f.name, "float64", f.nullable))
        else:
            desired.append(f)
    desired.append(FieldSpec("country", "string", True))
    plan = provider.diff_schema(table_name=TABLE, desired=_schema(desired))
    widen = [c for c in plan.changes if c.change_type == "widen_type"]
    assert widen and all(c.classification == "breaking" for c in widen)
    assert plan.requires_approval
    with pytest.raises(InvalidInput, match="breaking"):
        provider.apply_plan(plan=plan)
    with pytest.raises(InvalidInput, match="cannot change"):
        provider.apply_plan(plan=plan, approved=True)
    # Nothing applied, not even the safe add.
    assert lakehouse.get_table(TABLE).table.metadata_location == before


@pytest.mark.parametrize(
    ("change", "reason"),
    [("narrow", "cannot narrow"), ("required", "cannot make an existing column required")],
)
def test_changes_iceberg_cannot_make_are_refused_never_skipped(migrator, change, reason):
    provider, lakehouse = migrator
    before = lakehouse.get_table(TABLE).table.metadata_location
    desired = []
    for f in _current(lakehouse):
        if change == "narrow" and f.dtype == "int64":
            desired.append(FieldSpec(f.name, "int32", f.nullable))
        elif change == "required" and f.nullable:
            desired.append(FieldSpec(f.name, f.dtype, False))
        else:
            desired.append(f)
    plan = provider.diff_schema(table_name=TABLE, desired=_schema(desired))
    assert plan.changes
    unsupported = {c.change_type for c in plan.changes} - provider.supported_changes()
    assert unsupported  # phlo schema-migrate refuses such a plan before calling us, and so do we
    with pytest.raises(InvalidInput, match=reason):
        provider.apply_plan(plan=plan, approved=True)
    assert lakehouse.get_table(TABLE).table.metadata_location == before


def test_phlos_ingestion_columns_are_never_reported_as_dropped(migrator):
    provider, lakehouse = migrator
    table = lakehouse.get_table(TABLE).table
    with table.update_schema() as update:
        from pyiceberg.types import StringType

        update.add_column("_phlo_row_id", StringType())
    plan = provider.diff_schema(table_name=TABLE, desired=_schema(_current(lakehouse)[:-1]))
    assert [c.field_name for c in plan.changes] == []
