"""The boundary to PyIceberg's and pynessie's internals.

These modules are the only ones in phlo_lakehouse that use a private (``_``-prefixed) name of
PyIceberg or pynessie, or rely on their undocumented machinery (the Avro reader and writer).
Everything else uses their public API, and this package. Importing it checks the PyIceberg
version these internals were verified against (`PYICEBERG_VERSION`, pinned exactly in
``pyproject.toml``); `phlo_lakehouse._upstream.pynessie` checks pynessie's (`PYNESSIE_VERSION`)
when it is imported. Each private name has a contract test in
``phlo_lakehouse_tests/_upstream/``, and an AST test keeps private names out of every other
module.

Modules:
    pyiceberg: the commit hook, the linear snapshot removal, the metrics evaluator, Arrow
        schema projection, a metastore catalog's default table location, schema previews.
    manifest_writer: manifests written in Avro blocks, with the spec's ``equality_ids`` type.
    metadata_v3: format v3 table metadata written faithfully (PyIceberg refuses), installed on
        a client-side catalog for the duration of our commit only.
    manifests_v3: format v3 manifest lists and manifests read and written with row lineage.
    avro_manifests: projected manifest reads that decode file paths only.
    pynessie: the merge request with the dry-run flags pynessie does not expose.

Example:
    >>> from phlo_lakehouse._upstream import PYICEBERG_VERSION
    >>> PYICEBERG_VERSION
    '0.12.0'
"""

from phlo_lakehouse._upstream.versions import (
    PYICEBERG_VERSION,
    PYNESSIE_VERSION,
    check_version,
)

check_version("pyiceberg", PYICEBERG_VERSION)

__all__ = ["PYICEBERG_VERSION", "PYNESSIE_VERSION", "check_version"]
