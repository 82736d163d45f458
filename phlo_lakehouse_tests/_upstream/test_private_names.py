"""The boundary to upstream internals: PyIceberg/pynessie private names appear only in
``phlo_lakehouse/_upstream``, each one it uses has a contract test here, and the pinned versions
are checked when the boundary is imported.

If PyIceberg or pynessie is upgraded, the contract of the name that changed fails first.
"""

import inspect
from pathlib import Path

import pyarrow as pa
import pytest

import phlo_lakehouse
from phlo_lakehouse._upstream import PYICEBERG_VERSION, PYNESSIE_VERSION, check_version
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import UnsupportedUpstreamVersion
from phlo_lakehouse_tests._upstream.private_names import private_uses

PACKAGE = Path(phlo_lakehouse.__file__).parent
BOUNDARY = PACKAGE / "_upstream"


def _uses(root: Path, *, inside_boundary: bool) -> list:
    found = []
    for path in sorted(root.rglob("*.py")):
        if (BOUNDARY in path.parents) == inside_boundary:
            found += private_uses(path.read_text(encoding="utf-8"), str(path.relative_to(root)))
    return found


def test_private_names_appear_only_inside_the_boundary_package():
    outside = _uses(PACKAGE, inside_boundary=False)
    assert outside == [], "\n".join(map(str, outside))


def test_the_scanner_finds_every_kind_of_private_use():
    """Positive control: each pattern the AST test must catch, in one snippet."""
    snippet = """
from pyiceberg.io.pyarrow import _to_requested_schema
from pynessie.client import _endpoints as endpoints
import pyiceberg.avro._private_module
from pyiceberg.table import Table
from pyiceberg.manifest import ManifestWriterV2

def commit(table, client):
    table._do_commit(updates=(), requirements=())
    Table._do_commit
    getattr(client, "_base_url")

class Writer(ManifestWriterV2):
    def new_writer(self):
        return self._output_file, super()._meta

def factory(base):
    class Blocked(base):
        def go(self):
            return self._with_partition(2)
    return Blocked

class Ours:
    def __init__(self):
        self._meta = 1
    def go(self):
        return self._meta

class Mine(Ours):
    def go(self):
        return super()._local_helper()

class Foreign(Table):
    def go(self):
        return super()._local_helper()
"""
    names = [(u.line, u.name) for u in private_uses(snippet)]
    assert names == [
        (2, "pyiceberg.io.pyarrow._to_requested_schema"),
        (3, "pynessie.client._endpoints"),
        (4, "pyiceberg.avro._private_module"),
        (9, "_do_commit"),
        (10, "_do_commit"),
        (11, "_base_url"),
        (15, "_meta"),
        (15, "_output_file"),
        (20, "_with_partition"),
        (35, "_local_helper"),
    ]


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def test_every_private_name_the_boundary_uses_has_a_contract_test():
    used = {_short(u.name) for u in _uses(PACKAGE, inside_boundary=True)}
    assert used == set(CONTRACTS), (used - set(CONTRACTS), set(CONTRACTS) - used)


def test_the_pinned_versions_are_installed_and_others_are_refused():
    import pyiceberg
    import pynessie

    assert (pyiceberg.__version__, pynessie.__version__) == (PYICEBERG_VERSION, PYNESSIE_VERSION)
    check_version("pyiceberg", PYICEBERG_VERSION)
    with pytest.raises(UnsupportedUpstreamVersion) as info:
        check_version("pyiceberg", "0.11.1")
    assert "pyiceberg==0.11.1" in str(info.value) and "pinned in pyproject.toml" in info.value.hint


# -- one contract per private name -------------------------------------------------------------


def _do_commit(lakehouse):
    from pyiceberg.table import Table

    assert list(inspect.signature(Table._do_commit).parameters) == [
        "self",
        "updates",
        "requirements",
    ]


def _apply_table_update(lakehouse):
    from pyiceberg.table.update import RemoveSnapshotsUpdate, _apply_table_update

    assert callable(_apply_table_update.register)
    handler = _apply_table_update.dispatch(RemoveSnapshotsUpdate)
    assert handler is not _apply_table_update.dispatch(object)
    assert list(inspect.signature(handler).parameters) == ["update", "base_metadata", "context"]


def _inclusive_metrics_evaluator(lakehouse):
    from pyiceberg.expressions import GreaterThan, LessThan

    from phlo_lakehouse._upstream.pyiceberg import inclusive_metrics_evaluator

    table = seed_demo_table(
        lakehouse, "raw.metrics", commits=1, rows_per_commit=10, partitioned=False
    ).table
    schema = table.metadata.schema()
    (task,) = list(table.scan().plan_files())
    assert inclusive_metrics_evaluator(schema, GreaterThan("event_id", 5))(task.file) is True
    assert inclusive_metrics_evaluator(schema, GreaterThan("event_id", 10**9))(task.file) is False
    assert inclusive_metrics_evaluator(schema, LessThan("event_id", 0))(task.file) is False


def _to_requested_schema_contract(lakehouse):
    from pyiceberg.io.pyarrow import _to_requested_schema
    from pyiceberg.schema import Schema
    from pyiceberg.types import IntegerType, LongType, NestedField

    from phlo_lakehouse._upstream.pyiceberg import to_requested_schema

    params = inspect.signature(_to_requested_schema).parameters
    assert {"requested_schema", "file_schema", "batch", "include_field_ids", "format_model"} <= set(
        params
    )
    file_schema = Schema(NestedField(1, "old", IntegerType(), required=False))
    requested = Schema(NestedField(1, "new", LongType(), required=False))
    batch = pa.RecordBatch.from_pydict({"old": pa.array([1, 2], pa.int32())})
    projected = to_requested_schema(
        requested, file_schema, batch, include_field_ids=False, format_model=None
    )
    assert projected.schema.names == ["new"] and projected.column(0).type == pa.int64()
    assert projected.column(0).to_pylist() == [1, 2]


def _resolve_table_location(lakehouse):
    from phlo_lakehouse._upstream.pyiceberg import metastore_table_location

    catalog = lakehouse.catalog()
    catalog.create_namespace("raw")
    predicted = metastore_table_location(catalog, "raw", "located")
    created = seed_demo_table(lakehouse, "raw.located", commits=1, rows_per_commit=1)
    assert predicted == created.table.location()


def _apply(lakehouse):
    from pyiceberg.types import StringType

    from phlo_lakehouse._upstream.pyiceberg import preview_schema_update

    table = seed_demo_table(lakehouse, "raw.schema", commits=1, rows_per_commit=1).table
    preview = preview_schema_update(table.update_schema().add_column("note", StringType()))
    assert "note" in preview.column_names
    assert "note" not in lakehouse.get_table("raw.schema").table.schema().column_names


def _manifest_writer_private_members(lakehouse):
    from pyiceberg.manifest import ManifestWriterV1, ManifestWriterV2

    for writer in (ManifestWriterV1, ManifestWriterV2):
        assert isinstance(
            writer.__dict__.get("_meta") or writer.__mro__[1].__dict__["_meta"], property
        )
        assert list(inspect.signature(writer._with_partition).parameters) == [
            "self",
            "format_version",
        ]
    assert "_output_file" in inspect.getsource(ManifestWriterV2.__mro__[1].__init__)


def _pynessie_endpoints(lakehouse):
    from pynessie.client import _endpoints

    assert list(inspect.signature(_endpoints.merge).parameters) == [
        "base_url",
        "auth",
        "branch",
        "merge_json",
        "expected_hash",
        "ssl_verify",
    ]


def _pynessie_client_attributes(lakehouse):
    import pynessie

    client = pynessie.init(
        config_dict={
            "endpoint": "http://127.0.0.1:9/api/v1",
            "verify": True,
            "auth": {"type": "none"},
        }
    )
    assert client._base_url == "http://127.0.0.1:9/api/v1"
    assert client._ssl_verify is True
    assert client._auth is None or callable(client._auth)


def _transaction_staging(lakehouse):
    from pyiceberg.types import StringType

    from phlo_lakehouse._upstream.pyiceberg import staged_changes

    table = seed_demo_table(lakehouse, "raw.staged", commits=1, rows_per_commit=1).table
    transaction = table.transaction()
    with transaction.update_schema() as update:
        update.add_column("note", StringType())
    staged_table, updates, requirements = staged_changes(transaction)
    assert staged_table is table
    assert [type(u).__name__ for u in updates] == ["AddSchemaUpdate", "SetCurrentSchemaUpdate"]
    assert "AssertCurrentSchemaId" in [type(r).__name__ for r in requirements]


def _catalog_write_metadata(lakehouse):
    from pyiceberg.catalog import MetastoreCatalog
    from pyiceberg.catalog.glue import GlueCatalog
    from pyiceberg.catalog.hive import HiveCatalog
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.schema import Schema
    from pyiceberg.table.metadata import TableMetadataV3

    from phlo_lakehouse._upstream.metadata_v3 import v3_metadata_writes, write_table_metadata

    write = inspect.getattr_static(MetastoreCatalog, "_write_metadata")
    assert isinstance(write, staticmethod)
    assert list(inspect.signature(write).parameters) == ["metadata", "io", "metadata_path"]
    for catalog_class in (SqlCatalog, HiveCatalog, GlueCatalog):
        assert "self._write_metadata" in inspect.getsource(catalog_class.commit_table)
    # The gap our writer fills: once PyIceberg writes v3 itself, this fails and it can go.
    from pyiceberg.partitioning import PartitionSpec

    metadata = TableMetadataV3(
        location="file:///t",
        last_column_id=0,
        schemas=[Schema()],
        partition_specs=[PartitionSpec()],
    )
    with pytest.raises(NotImplementedError):
        metadata.model_dump_json()
    catalog = lakehouse.catalog()
    with v3_metadata_writes(catalog):
        with v3_metadata_writes(catalog):  # nested (concurrent) commits share the writer
            assert catalog._write_metadata is write_table_metadata
        assert catalog._write_metadata is write_table_metadata
    assert "_write_metadata" not in vars(catalog)
    assert catalog._write_metadata is write.__func__


def _inherit_from_manifest(lakehouse):
    """Our v3 manifest reader inherits snapshot ids, sequence numbers and spec ids exactly as
    PyIceberg's own reader does (it calls the same private function)."""
    from pyiceberg.manifest import _inherit_from_manifest

    from phlo_lakehouse._upstream.manifests_v3 import read_lineage_entries

    assert list(inspect.signature(_inherit_from_manifest).parameters) == ["entry", "manifest"]
    table = seed_demo_table(lakehouse, "raw.inherit", commits=2, rows_per_commit=5).table
    for manifest in table.current_snapshot().manifests(table.io):
        theirs = manifest.fetch_manifest_entry(table.io)
        ours = read_lineage_entries(table.io, manifest)

        def key(e):
            d = e.data_file
            return (
                e.status,
                e.snapshot_id,
                e.sequence_number,
                e.file_sequence_number,
                d.file_path,
                d.record_count,
                d.spec_id,
                d.partition,
            )

        assert [key(e) for e in ours] == [key(e) for e in theirs]


def _read_deletes(lakehouse):
    from pyiceberg.io.pyarrow import _read_deletes

    from phlo_lakehouse._upstream.pyiceberg import deleted_positions
    from phlo_lakehouse.operations.live_files import live_files
    from phlo_lakehouse_tests.operations.position_delete_helpers import delete_positions

    assert list(inspect.signature(_read_deletes).parameters) == ["io", "data_file"]
    handle = seed_demo_table(
        lakehouse, "raw.deletes", commits=2, rows_per_commit=10, partitioned=False
    )
    first, second = sorted(f.path for f in live_files(handle.table, handle.snapshot).data)
    handle = delete_positions(handle, {first: [1, 4], second: [0]}, per_data_file=False)
    (delete,) = live_files(handle.table, handle.snapshot).deletes
    read = deleted_positions(handle.table.io, delete.data_file)
    assert {path: positions.to_pylist() for path, positions in read.items()} == {
        first: [1, 4],
        second: [0],
    }


#: The private name → its contract (the test below runs each).
CONTRACTS = {
    "_do_commit": _do_commit,
    "_apply_table_update": _apply_table_update,
    "_InclusiveMetricsEvaluator": _inclusive_metrics_evaluator,
    "_to_requested_schema": _to_requested_schema_contract,
    "_resolve_table_location": _resolve_table_location,
    "_apply": _apply,
    "_output_file": _manifest_writer_private_members,
    "_with_partition": _manifest_writer_private_members,
    "_meta": _manifest_writer_private_members,
    "_table": _transaction_staging,
    "_updates": _transaction_staging,
    "_requirements": _transaction_staging,
    "_endpoints": _pynessie_endpoints,
    "_base_url": _pynessie_client_attributes,
    "_auth": _pynessie_client_attributes,
    "_ssl_verify": _pynessie_client_attributes,
    "_write_metadata": _catalog_write_metadata,
    "_inherit_from_manifest": _inherit_from_manifest,
    "_read_deletes": _read_deletes,
}


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_contract_of(name, lakehouse):
    CONTRACTS[name](lakehouse)
