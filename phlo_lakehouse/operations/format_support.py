"""What each operation can do on each Iceberg format version with PyIceberg 0.12.

PyIceberg 0.12 reads format v3 tables (deletion vectors applied, row lineage fields parsed) but
writes no v3 table metadata itself (``TableMetadataV3.model_dump_json`` raises) and no v3 data
or manifests. On a v3 table:

- ``expire``, ``compute_table_stats``, ref and schema changes (metadata-only commits),
  ``rewrite_manifests`` and ``optimize`` work (vacuum too, which commits nothing). The new
  metadata file is written by our v3 writer (`phlo_lakehouse._upstream.metadata_v3`), which
  keeps every field (row lineage included); the manifest rewrite and the compaction write v3
  manifests and a v3 manifest list that keep every row's lineage
  (`phlo_lakehouse._upstream.manifests_v3`). The compaction reads each file with its deletion
  vector applied and writes every surviving row's ``_row_id`` and
  ``_last_updated_sequence_number`` into the files it writes (`operations.lineage`; decoded,
  never stitched); the deletion vectors of the files it replaces go in the same commit.
  ``remove_dangling_deletes`` removes deletion vectors whose referenced data file is no longer
  live (entry by entry: the other vectors of their Puffin files stay) and position/equality
  delete files from before the upgrade by the v2 rules, in one metadata-only commit with v3
  delete manifests. ``data_retention`` drops wholly old files metadata-only (their deletion
  vectors with them) and rewrites boundary files through the compaction's lineage-preserving
  reader and writer. ``cherry_pick`` appends the picked files in a new manifest to which the
  v3 manifest list assigns ``first_row_id`` from ``next-row-id`` (the rows get new row ids, as
  any append's). The plan first checks that the table's current metadata document
  survives that writer unchanged and that the catalog writes metadata client-side (SQL,
  Glue, Hive), else it refuses;
- every other committing operation (``rewrite_position_deletes``: it would have to write
  deletion vectors) is refused in its plan, before anything is written, with one line saying
  why (`V3_REFUSALS`).

See docs/maintenance.md, "Format version 3".

Example:
    >>> check_format_support(handle, "rewrite_position_deletes")      # doctest: +SKIP
    Traceback (most recent call last):
    phlo_lakehouse.errors.InvalidInput: rewrite_position_deletes cannot commit to format v3 ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable

#: The newest format version any operation commits to.
NEWEST_FORMAT_VERSION = 3

#: Operations that commit to format v3 tables (through our v3 metadata and manifest writers).
V3_COMMITS = frozenset(
    {
        "expire",
        "compute_table_stats",
        "rewrite_manifests",
        "optimize",  # row lineage written into the compacted files (operations.lineage)
        "remove_dangling_deletes",  # metadata only: deletion vectors removed entry by entry
        "data_retention",  # kept rows of boundary files written with their lineage
        "cherry_pick",  # the picked files' manifest gets row ids from the v3 manifest list
        # metadata-only: refs and schemas
        "create_ref",
        "remove_ref",
        "fast_forward",
        "rollback",
        "set_current_snapshot",
        "evolve_schema",
    }
)

#: Why each committing operation is refused on a format v3 table (one line each).
V3_REFUSALS: dict[str, str] = {
    "rewrite_position_deletes": "v3 tables keep deletes as deletion vectors, and compacting "
    "position delete files into them needs a deletion-vector writer, which neither "
    "PyIceberg 0.12 nor phlo-lakehouse has",
}
_HINT = (
    "run Spark's Iceberg procedure for it on v3 tables (docs/maintenance.md, \"Format version "
    '3"); expire, compute_table_stats, rewrite_manifests, optimize, remove_dangling_deletes, '
    "data_retention, cherry_pick, vacuum and reads work on v3"
)


def check_format_support(table: LakehouseTable, operation: str) -> None:
    """Raise `InvalidInput` unless ``operation`` can commit correctly to ``table``'s format.

    Nothing has been written when it raises: call it first in ``plan``.

    Raises:
        InvalidInput: a format version newer than v3; on v3, an operation in `V3_REFUSALS`, a
            catalog that writes metadata on its server, or a metadata document our v3 writer
            would not reproduce exactly.
    """
    version = table.table.metadata.format_version
    if version < 3:
        return
    refused = f"{operation} cannot commit to format v{version} table {table.identifier}"
    if version > NEWEST_FORMAT_VERSION:
        raise InvalidInput(f"{refused}: format v{version} is unknown to PyIceberg 0.12", hint=_HINT)
    if operation not in V3_COMMITS:
        reason = V3_REFUSALS.get(operation, "PyIceberg 0.12 writes no v3 data files or manifests")
        raise InvalidInput(f"{refused}: {reason}", hint=_HINT)
    _check_v3_metadata_write(table, refused)


def _check_v3_metadata_write(table: LakehouseTable, refused: str) -> None:
    from phlo_lakehouse._upstream.metadata_v3 import (
        describe,
        read_metadata_document,
        round_trip_differences,
        writes_metadata_client_side,
    )

    if not writes_metadata_client_side(table.table.catalog):
        raise InvalidInput(
            f"{refused}: this catalog writes v3 metadata on its server, which phlo-lakehouse "
            "has verified only for client-side catalogs (sql, glue, hive)",
            hint=_HINT,
        )
    document = read_metadata_document(table.table.io, table.table.metadata_location)
    differences = round_trip_differences(document)
    if differences:
        raise InvalidInput(f"{refused}: {describe(differences)}", hint=_HINT)
