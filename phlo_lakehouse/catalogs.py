"""Build a PyIceberg catalog from `CatalogSettings`: sql (SQLite, PostgreSQL), rest, nessie, glue,
hive.

A Nessie catalog is reached through Nessie's Iceberg REST endpoint, one catalog per reference
(``<uri>/iceberg/<ref>``), so a ``ref`` selects a catalog-wide branch or tag.

Example:
    >>> from phlo_lakehouse.config import CatalogSettings
    >>> cat = build_catalog(CatalogSettings.embedded("/tmp/phlo-doc"))   # doctest: +SKIP
    >>> cat.list_namespaces()                                             # doctest: +SKIP
    []
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from phlo_lakehouse.errors import (
    CatalogUnavailable,
    InvalidConfig,
    LakehouseError,
    NamespaceNotFound,
    TableMetadataMissing,
    TableNotFound,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.identifiers import TableIdentifier


#: Set on a Nessie catalog so that commit checks can read the reference's commit log (the
#: table metadata Nessie serves keeps one snapshot per commit, no history).
NESSIE_URI_PROPERTY = "phlo-lakehouse.nessie-uri"
NESSIE_REF_PROPERTY = "phlo-lakehouse.nessie-ref"


def catalog_properties(settings: CatalogSettings, ref: str | None = None) -> dict[str, str]:
    """The PyIceberg properties for ``settings`` (on ``ref`` for Nessie), without connecting.

    Example:
        >>> from phlo_lakehouse.config import CatalogSettings
        >>> s = CatalogSettings(type="nessie", uri="http://n:19120")
        >>> catalog_properties(s, "dev")["uri"]
        'http://n:19120/iceberg/dev'
    """
    props: dict[str, str] = dict(settings.properties)
    if settings.warehouse:
        props["warehouse"] = settings.warehouse
    if settings.type == "nessie":
        props["uri"] = f"{settings.uri}/iceberg/{ref or settings.default_ref}"
        props[NESSIE_URI_PROPERTY] = settings.uri or ""
        props[NESSIE_REF_PROPERTY] = ref or settings.default_ref
    elif settings.uri:
        props["uri"] = settings.uri
    if settings.type == "sql":
        props.setdefault("init_catalog_tables", "true")
    return props


def build_catalog(settings: CatalogSettings, ref: str | None = None) -> Catalog:
    """Connect to the catalog described by ``settings``.

    Args:
        settings: where the catalog is.
        ref: for Nessie, the branch or tag the catalog reads and writes; ignored otherwise.

    Raises:
        CatalogUnavailable: the service does not answer or refuses the connection.
        InvalidConfig: the settings cannot describe a catalog of that type.
    """
    props = catalog_properties(settings, ref)
    try:
        if settings.type == "sql":
            _prepare_local_sql(props)
            from pyiceberg.catalog.sql import SqlCatalog

            return SqlCatalog(settings.name, **props)
        if settings.type in ("rest", "nessie"):
            from pyiceberg.catalog.rest import RestCatalog

            return RestCatalog(settings.name, **props)
        if settings.type == "glue":
            from pyiceberg.catalog.glue import GlueCatalog

            return GlueCatalog(settings.name, **props)
        from pyiceberg.catalog.hive import HiveCatalog

        return HiveCatalog(settings.name, **props)
    except (InvalidConfig, CatalogUnavailable):
        raise
    except Exception as e:
        raise _classify_connect_error(settings, e) from e


def sqlite_catalog_path(settings: CatalogSettings) -> Path | None:
    """The database file of a SQLite catalog (None for other catalogs and in-memory SQLite).

    Example:
        >>> from phlo_lakehouse.config import CatalogSettings
        >>> sqlite_catalog_path(CatalogSettings.embedded("/tmp/lh"))
        PosixPath('/tmp/lh/catalog.db')
    """
    uri = settings.uri or ""
    if settings.type != "sql" or not uri.startswith("sqlite:///") or ":memory:" in uri:
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


def _prepare_local_sql(props: dict[str, str]) -> None:
    """Create the directories an embedded SQLite catalog and file:// warehouse live in."""
    uri = props["uri"]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    warehouse = props.get("warehouse", "")
    if warehouse.startswith("file://"):
        Path(urlparse(warehouse).path).mkdir(parents=True, exist_ok=True)


_CONNECTION_WORDS = (
    "connection",
    "refused",
    "could not connect",
    "timed out",
    "unreachable",
    "name or service",
    "max retries",
    "operationalerror",
    "transport",
    "endpointconnectionerror",
    "could not translate host",
)


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]


def _is_connection_failure(error: BaseException) -> bool:
    """True for a client library's "cannot connect" error (thrift, botocore, requests…)."""
    return any(w in _first_line(error).lower() for w in _CONNECTION_WORDS)


def _classify_connect_error(settings: CatalogSettings, error: Exception) -> Exception:
    text = _first_line(error)
    if _is_connection_failure(error):
        return CatalogUnavailable(
            f"cannot reach the {settings.describe()}: {text}",
            hint="check that the service is running and the uri/port are right",
        )
    return InvalidConfig(
        f"cannot open the {settings.describe()}: {text}",
        hint="check the catalog settings (type, uri, warehouse, properties)",
    )


def load_table(catalog: Catalog, ident: TableIdentifier, nessie_ref: str | None = None) -> Table:
    """``catalog.load_table`` with our errors (``nessie_ref``: the Nessie reference, named in
    them).

    Raises:
        NamespaceNotFound, TableNotFound: nothing by that name (on that reference).
    """
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return catalog.load_table(ident.as_tuple())
    except (NoSuchTableError, NoSuchNamespaceError) as e:
        where = f" on ref {nessie_ref!r}" if nessie_ref is not None else ""
        if not catalog.namespace_exists(ident.namespace):
            raise NamespaceNotFound(
                f"namespace {'.'.join(ident.namespace)} does not exist{where}",
                hint="check the spelling or create the namespace first",
            ) from e
        raise TableNotFound(
            f"table {ident} does not exist{where}",
            hint="list tables with `phlo-lakehouse tables list`",
        ) from e


_QUOTED_PATH = re.compile(r"'([^']+)'")


def missing_file_error(error: FileNotFoundError) -> TableMetadataMissing:
    """`TableMetadataMissing` naming the file storage reported missing (``error``).

    Example:
        >>> e = FileNotFoundError(2, "Failed to open local file '/wh/t/m/1.metadata.json'")
        >>> missing_file_error(e).path
        '/wh/t/m/1.metadata.json'
    """
    found = error.filename or next(iter(_QUOTED_PATH.findall(str(error))), None)
    path = str(found) if found else None
    name = path or "a file"
    return TableMetadataMissing(
        f"table metadata file {name} is missing from storage (the catalog still points at it)",
        hint="restore the file from a backup or storage versioning; or drop the table from the "
        "catalog and register an earlier *.metadata.json from the same metadata folder",
        path=path,
    )


@contextmanager
def catalog_errors(settings: CatalogSettings) -> Iterator[None]:
    """Turn connection failures inside catalog calls into `CatalogUnavailable`."""
    try:
        yield
    except LakehouseError:
        raise
    except FileNotFoundError as e:
        raise missing_file_error(e) from e
    except (OSError, ConnectionError) as e:
        raise CatalogUnavailable(
            f"cannot reach the {settings.describe()}: {type(e).__name__}",
            hint="check that the service is running and the uri/port are right",
        ) from e
    except Exception as e:
        if _is_connection_failure(e):
            raise CatalogUnavailable(
                f"cannot reach the {settings.describe()}: {_first_line(e)}",
                hint="check that the service is running and the uri/port are right",
            ) from e
        if type(e).__name__ in ("OperationalError", "InterfaceError"):
            raise CatalogUnavailable(
                f"cannot reach the {settings.describe()}: {type(e).__name__}",
                hint="check that the database is running and the uri is right",
            ) from e
        raise
