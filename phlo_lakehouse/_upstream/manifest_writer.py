"""Manifest writers: PyIceberg's, writing entries in Avro blocks and ``equality_ids`` as the
spec's ``list<int>``, and for format v3 with the v3 entry schema (PyIceberg has no v3 writer).

They subclass PyIceberg's ``ManifestWriterV1``/``ManifestWriterV2`` and use its private
``_output_file``, ``_with_partition`` and ``_meta`` (there is no public way to choose the Avro
block size or fix the entry schema).

Example:
    >>> BLOCK_ENTRIES
    1000
"""

from __future__ import annotations

from functools import cache
from typing import Any

from phlo_lakehouse.errors import StaleReplace

#: Manifest entries per Avro block (PyIceberg writes a block per entry: a header, a sync
#: marker and a compression stream each, which costs more than the entries themselves).
BLOCK_ENTRIES = 1000
DATA_FILE_FIELD_ID = 2
EQUALITY_IDS_FIELD_ID = 135


def manifest_writer(format_version, spec, schema, output, snapshot_id, compression, *, deletes):
    """A PyIceberg manifest writer (v1, v2 or v3; delete manifests from v2 on) that writes its
    entries in blocks of `BLOCK_ENTRIES`. A v3 writer writes v3 data files (row lineage and
    deletion-vector fields): give it entries read by `manifests_v3.read_lineage_entries`."""
    from pyiceberg.manifest import ManifestWriterV1, ManifestWriterV2

    if deletes and format_version == 1:
        raise StaleReplace(
            "delete manifests exist only in format v2 and newer tables",
            hint="re-plan against the refreshed table (the executor does this automatically)",
        )
    if format_version not in (1, 2, 3):
        raise StaleReplace(
            f"manifests of format v{format_version} tables cannot be written",
            hint="phlo-lakehouse writes manifests of format v1, v2 and v3 tables",
        )
    base = {1: ManifestWriterV1, 2: ManifestWriterV2, 3: _writer_v3()}[format_version]
    return _blocked_writer_class(base, deletes)(spec, schema, output, snapshot_id, compression)


@cache
def _writer_v3() -> type:
    from pyiceberg.manifest import ManifestWriterV2

    class _ManifestWriterV3(ManifestWriterV2):
        """PyIceberg's v2 writer with the v3 entry schema (``MANIFEST_ENTRY_SCHEMAS[3]``: v2's
        fields plus ``first_row_id`` and the deletion-vector fields) and format version 3."""

        @property
        def version(self):
            return 3

    return _ManifestWriterV3


@cache
def _blocked_writer_class(base: type, deletes: bool) -> type:
    from pyiceberg.avro.file import AvroOutputFile
    from pyiceberg.manifest import DEFAULT_READ_VERSION, ManifestContent

    class _BlockedOutput(AvroOutputFile):
        """Gathers ``write_block`` calls into blocks of `BLOCK_ENTRIES` entries."""

        def __enter__(self):
            self.pending: list[Any] = []
            return super().__enter__()

        def write_block(self, objects: list[Any]) -> None:
            self.pending.extend(objects)
            if len(self.pending) >= BLOCK_ENTRIES:
                self.flush_pending()

        def flush_pending(self) -> None:
            if self.pending:
                pending, self.pending = self.pending, []
                super().write_block(pending)

        def __exit__(self, exc_type, exc, tb) -> None:
            if exc_type is None:
                self.flush_pending()
            super().__exit__(exc_type, exc, tb)

    class _Writer(base):
        def new_writer(self):
            return _BlockedOutput(
                output_file=self._output_file,
                file_schema=_spec_equality_ids(self._with_partition(self.version)),
                record_schema=_spec_equality_ids(
                    self._with_partition(max(self.version, DEFAULT_READ_VERSION))
                ),
                schema_name="manifest_entry",
                metadata=self._meta,
            )

    if not deletes:
        return _Writer

    class _DeleteWriter(_Writer):
        def content(self) -> ManifestContent:
            return ManifestContent.DELETES

        @property
        def _meta(self) -> dict[str, str]:
            return {**super()._meta, "content": "deletes"}

    return _DeleteWriter


def _spec_equality_ids(schema: Any) -> Any:
    """The manifest entry schema with ``data_file.equality_ids`` as ``list<int>``, as the Iceberg
    spec defines it. PyIceberg 0.12 declares ``list<long>`` (apache/iceberg-python#3840), which
    Java readers reject with a ClassCastException as soon as a manifest holds an equality delete
    file; ints and longs share Avro's encoding, so PyIceberg reads either."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import IntegerType, ListType, StructType

    def data_file(field: Any) -> Any:
        fields = [
            f.model_copy(
                update={
                    "field_type": ListType(
                        element_id=f.field_type.element_id,
                        element_type=IntegerType(),
                        element_required=f.field_type.element_required,
                    )
                }
            )
            if f.field_id == EQUALITY_IDS_FIELD_ID
            else f
            for f in field.field_type.fields
        ]
        return field.model_copy(update={"field_type": StructType(*fields)})

    return Schema(
        *[data_file(f) if f.field_id == DATA_FILE_FIELD_ID else f for f in schema.fields],
        schema_id=schema.schema_id,
    )
