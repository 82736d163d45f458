"""Format v3 table metadata written by us, faithfully, where PyIceberg 0.12 refuses to.

PyIceberg 0.12 parses every field Iceberg 1.10 writes into a v3 ``metadata.json`` (row lineage:
``next-row-id``, each snapshot's ``first-row-id`` and ``added-rows``), but
``TableMetadataV3.model_dump_json`` raises ``NotImplementedError`` (apache/iceberg-python#1551),
so every client-side commit fails while writing the new metadata file. The model itself
serialises like v2 (``IcebergBaseModel.model_dump_json``, the method the override shadows);
`table_metadata_json` calls that. Fields the model does not carry (say ``encryption-keys``)
would be dropped silently, so `round_trip_differences` compares a table's own metadata document
with what we would write, and operations refuse in their plan unless nothing differs.

Where metadata is written:

- client-side catalogs (``MetastoreCatalog``: SQL, Glue, Hive) write the new file in
  ``commit_table`` through the catalog's ``_write_metadata`` (a staticmethod calling
  ``ToOutputFile.table_metadata``). `v3_metadata_writes` points that attribute of one catalog
  instance at `write_table_metadata` for the duration of our commit (reference-counted, so
  concurrent commits on one catalog are safe; other versions are written exactly as PyIceberg
  does). Nothing is patched globally or at import time.
- REST catalogs (Iceberg REST, Nessie) write metadata on the server: the client sends updates,
  and the server's v3 support decides.

Example:
    >>> from phlo_lakehouse._upstream.metadata_v3 import TOLERATED_ADDITIONS
    >>> TOLERATED_ADDITIONS
    {'identifier-field-ids': []}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.io import FileIO
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata

#: Keys our JSON adds that mean what their absence means (PyIceberg writes a schema's empty
#: ``identifier-field-ids``; Iceberg Java omits it).
TOLERATED_ADDITIONS: dict[str, Any] = {"identifier-field-ids": []}
_lock = threading.Lock()
_active: dict[int, int] = {}  # id(catalog) -> commits in flight with our writer installed


def table_metadata_json(metadata: TableMetadata) -> bytes:
    """The ``metadata.json`` document of ``metadata``, any format version, as PyIceberg's
    ``ToOutputFile.table_metadata`` writes it (honouring ``legacy-current-snapshot-id``)."""
    from pyiceberg.typedef import IcebergBaseModel
    from pyiceberg.utils.config import Config

    exclude_none = not Config().get_bool("legacy-current-snapshot-id")
    if metadata.format_version < 3:
        return metadata.model_dump_json(exclude_none=exclude_none).encode("utf-8")
    return IcebergBaseModel.model_dump_json(metadata, exclude_none=exclude_none).encode("utf-8")


def write_table_metadata(metadata: TableMetadata, io: FileIO, metadata_path: str) -> None:
    """Write ``metadata`` to a new file at ``metadata_path`` (compressed per its name), the
    document serialised before the file is created so a failure leaves no empty file."""
    from pyiceberg.serializers import Compressor

    document = table_metadata_json(metadata)
    output = io.new_output(metadata_path)
    document = Compressor.get_compressor(output.location).bytes_compressor()(document)
    with output.create(overwrite=False) as stream:
        stream.write(document)


def writes_metadata_client_side(catalog: Catalog) -> bool:
    """True for catalogs whose ``commit_table`` writes the metadata file in this process."""
    from pyiceberg.catalog import MetastoreCatalog

    return isinstance(catalog, MetastoreCatalog)


@contextmanager
def v3_metadata_writes(catalog: Catalog) -> Iterator[None]:
    """Within the block, ``catalog`` writes metadata files with `write_table_metadata` (v3
    too). A no-op for catalogs writing on a server."""
    if not writes_metadata_client_side(catalog):
        yield
        return
    key = id(catalog)
    with _lock:
        if not _active.get(key):
            # the staticmethod every client-side commit_table writes the new file with
            setattr(catalog, "_write_metadata", write_table_metadata)  # noqa: B010 - a private name
        _active[key] = _active.get(key, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _active[key] -= 1
            if not _active[key]:
                del _active[key]
                vars(catalog).pop("_write_metadata", None)


def read_metadata_document(io: FileIO, location: str) -> dict[str, Any]:
    """The JSON document of the metadata file at ``location`` (gzip-compressed or not)."""
    from pyiceberg.serializers import Compressor

    input_file = io.new_input(location)
    with input_file.open() as stream:
        with Compressor.get_compressor(location).stream_decompressor(stream) as raw:
            document: dict[str, Any] = json.loads(raw.read().decode("utf-8"))
    return document


def round_trip_differences(document: Mapping[str, Any]) -> list[str]:
    """Where the JSON we would write differs from ``document``, a ``metadata.json`` document,
    once PyIceberg has parsed it: ``"dropped /path"``, ``"added /path"``, ``"changed /path"``.
    Empty when a commit through our writer keeps every field and value it does not update."""
    from pyiceberg.table.metadata import TableMetadataUtil

    ours = json.loads(table_metadata_json(TableMetadataUtil.parse_obj(dict(document))))
    differences: list[str] = []
    _compare(document, ours, "", differences)
    return differences


def require_faithful_write(table: Table) -> None:
    """Raise `InvalidInput` when a commit to ``table`` (format v3, client-side catalog) would
    drop or change a field of its current metadata document: the last check before our writer
    writes, for commits that did not check in their plan."""
    from phlo_lakehouse.errors import InvalidInput

    if not writes_metadata_client_side(table.catalog):
        return
    document = read_metadata_document(table.io, table.metadata_location)
    differences = round_trip_differences(document)
    if differences:
        raise InvalidInput(
            f"cannot commit to format v3 table {'.'.join(table.name())}: {describe(differences)}",
            hint='use Spark for it (docs/maintenance.md, "Format version 3")',
        )


def describe(differences: list[str]) -> str:
    """One line naming the first differences `round_trip_differences` found."""
    shown = ", ".join(differences[:3]) + (", …" if len(differences) > 3 else "")
    return f"its metadata has fields PyIceberg 0.12 would not write back ({shown})"


def _compare(theirs: Any, ours: Any, path: str, out: list[str]) -> None:
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        for key in sorted(set(theirs) | set(ours)):
            where = f"{path}/{key}"
            if key not in ours:
                if not (key == "current-snapshot-id" and theirs[key] in (None, -1)):  # none
                    out.append(f"dropped {where}")
            elif key not in theirs:
                if TOLERATED_ADDITIONS.get(key, object()) != ours[key]:
                    out.append(f"added {where}")
            else:
                _compare(theirs[key], ours[key], where, out)
    elif isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours):
        for index, (a, b) in enumerate(zip(theirs, ours, strict=True)):
            _compare(a, b, f"{path}[{index}]", out)
    elif theirs != ours or type(theirs) is not type(ours):
        out.append(f"changed {path or '/'}")
