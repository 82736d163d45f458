"""What each operation can do on each Iceberg format version with PyIceberg 0.12.

PyIceberg 0.12 reads format v3 tables (deletion vectors applied, row lineage fields parsed) but
writes no v3 table metadata (``TableMetadataV3.model_dump_json`` raises) and no v3 manifests
(``ManifestWriterV1``/``V2`` only). So on a v3 table an operation that commits is refused in its
plan, before any file is written, with one line saying why; vacuum, which commits nothing, works
(deletion-vector Puffin files are reachable like any delete file). See docs/maintenance.md,
"Format version 3".

Example:
    >>> refuse_format_v3(handle, "optimize")                          # doctest: +SKIP
    Traceback (most recent call last):
    phlo_lakehouse.errors.InvalidInput: optimize cannot run on format v3 table ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phlo_lakehouse.errors import InvalidInput

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable

#: The newest format version whose metadata and manifests PyIceberg 0.12 writes.
WRITABLE_FORMAT_VERSION = 2


def refuse_format_v3(table: LakehouseTable, operation: str) -> None:
    """Raise `InvalidInput` when ``table`` has a format version PyIceberg cannot commit to.

    Raises:
        InvalidInput: the table is format v3 or newer (nothing has been written).
    """
    version = table.table.metadata.format_version
    if version > WRITABLE_FORMAT_VERSION:
        raise InvalidInput(
            f"{operation} cannot commit to format v{version} table {table.identifier}: "
            "PyIceberg 0.12 writes no v3 metadata or manifests",
            hint="run Spark's Iceberg procedure for it on v3 tables (docs/maintenance.md, "
            '"Format version 3"); vacuum and reads work on v3',
        )
