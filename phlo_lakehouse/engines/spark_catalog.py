"""The Spark catalog that matches ours: its name and its ``spark.sql.catalog.<name>.*`` settings
(JDBC for SQL catalogs, Nessie's Iceberg REST per reference, REST, Glue, Hive).

Example:
    >>> from phlo_lakehouse.config import CatalogSettings
    >>> spark_catalog_name(CatalogSettings.embedded("/tmp/lh"))
    'lakehouse'
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from phlo_lakehouse.errors import InvalidConfig

if TYPE_CHECKING:
    from phlo_lakehouse.config import CatalogSettings

SPARK_CATALOG = "org.apache.iceberg.spark.SparkCatalog"
S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"
GLUE_CATALOG = "org.apache.iceberg.aws.glue.GlueCatalog"
#: PyIceberg catalog properties whose Iceberg Java name differs (others pass unchanged).
_JAVA_PROPERTY_NAMES = {"s3.region": "client.region", "glue.region": "client.region"}


def spark_catalog_name(settings: CatalogSettings, ref: str | None = None) -> str:
    """The name of the Spark catalog that stands for ``settings`` (on ``ref`` for Nessie).

    A SQL (JDBC) catalog keeps its tables under its name, so Spark must use ``settings.name``.
    A Nessie catalog serves one reference per REST endpoint, so each ref other than the
    settings' default gets a catalog of its own.

    Example:
        >>> from phlo_lakehouse.config import CatalogSettings
        >>> s = CatalogSettings(type="nessie", uri="http://n:19120")
        >>> spark_catalog_name(s), spark_catalog_name(s, "dev/x")
        ('lakehouse', 'lakehouse__dev_x_d14efe')
    """
    ref = ref or settings.default_ref
    if settings.type != "nessie" or ref == settings.default_ref:
        return settings.name
    digest = hashlib.sha1(ref.encode()).hexdigest()[:6]
    return f"{settings.name}__{re.sub(r'[^A-Za-z0-9_]', '_', ref)}_{digest}"


def catalog_conf(
    settings: CatalogSettings, ref: str | None = None, *, name: str | None = None
) -> dict[str, str]:
    """The ``spark.sql.catalog.<name>.*`` settings of an Iceberg catalog matching ``settings``.

    sql → Iceberg JDBC catalog (SQLite file or PostgreSQL; Spark never creates the catalog
    tables: PyIceberg does, see `phlo_lakehouse.testing.spark`); nessie → Nessie's Iceberg REST
    endpoint for ``ref``; rest → REST; glue → GlueCatalog; hive → Hive metastore. S3 settings
    (``s3.*``) select Iceberg's S3FileIO (needs the ``iceberg-aws-bundle`` jar). Table caching is
    off, so Spark sees commits other engines make between two calls. No I/O.

    Raises:
        InvalidConfig: a SQL catalog Spark cannot share (in-memory SQLite, unknown dialect).

    Example:
        >>> from phlo_lakehouse.config import CatalogSettings
        >>> conf = catalog_conf(CatalogSettings.embedded("/tmp/lh"))
        >>> conf["spark.sql.catalog.lakehouse.uri"]
        'jdbc:sqlite:/tmp/lh/catalog.db'
    """
    ref = ref or settings.default_ref
    props: dict[str, str] = {}
    for key, value in settings.properties.items():
        props[_JAVA_PROPERTY_NAMES.get(key, key)] = str(value)
    if any(key.startswith("s3.") for key in props):
        props.setdefault("io-impl", S3_FILE_IO)
    if settings.type == "sql":
        props.update(_jdbc_properties(settings))
    elif settings.type == "nessie":
        props.update(type="rest", uri=f"{settings.uri}/iceberg/{ref}")
    elif settings.type == "rest":
        props.update(type="rest", uri=settings.uri or "")
    elif settings.type == "glue":
        props["catalog-impl"] = GLUE_CATALOG
        props.setdefault("io-impl", S3_FILE_IO)
    else:
        props.update(type="hive", uri=settings.uri or "")
    if settings.warehouse:
        props["warehouse"] = settings.warehouse
    props["cache-enabled"] = "false"
    prefix = f"spark.sql.catalog.{name or spark_catalog_name(settings, ref)}"
    return {prefix: SPARK_CATALOG, **{f"{prefix}.{k}": v for k, v in sorted(props.items())}}


def _jdbc_properties(settings: CatalogSettings) -> dict[str, str]:
    url = urlparse(settings.uri or "")
    dialect = url.scheme.split("+", 1)[0]
    if dialect == "sqlite":
        path = (settings.uri or "").split("sqlite:///", 1)[-1]
        if path in ("", ":memory:") or not (settings.uri or "").startswith("sqlite:///"):
            raise InvalidConfig(
                "an in-memory SQLite catalog cannot be shared with Spark",
                hint="use a SQLite file, e.g. CatalogSettings.embedded(tmp_dir)",
            )
        return {
            "type": "jdbc",
            "uri": f"jdbc:sqlite:{Path(path).absolute()}",
            "jdbc.init-catalog-tables": "false",
        }
    if dialect in ("postgresql", "postgres"):
        props = {
            "type": "jdbc",
            "uri": f"jdbc:postgresql://{url.hostname or 'localhost'}:{url.port or 5432}{url.path}",
            "jdbc.init-catalog-tables": "false",
        }
        if url.username:
            props["jdbc.user"] = unquote(url.username)
        if url.password:
            props["jdbc.password"] = unquote(url.password)
        return props
    raise InvalidConfig(
        f"no Spark JDBC mapping for the {settings.describe()}",
        hint="the Spark engine shares SQLite-file and PostgreSQL catalogs",
    )
