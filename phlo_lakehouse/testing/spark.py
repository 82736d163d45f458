"""A local Spark session whose Iceberg catalog is the catalog PyIceberg uses (cross-engine tests).

For a ``sql`` catalog on SQLite, Spark gets an Iceberg ``type=jdbc`` catalog on the same SQLite
file, with the same catalog name (both engines keep tables per catalog name) and the same
warehouse, so Spark reads, writes and maintains exactly the tables PyIceberg sees. Needs the jars
``scripts/spark_jars.sh`` fetches (``iceberg-spark-runtime-3.5_2.12`` and ``sqlite-jdbc``).

PyIceberg creates the catalog tables (`spark_session_for` opens the catalog once to make sure)
and Spark never does (``jdbc.init-catalog-tables=false``): Iceberg 1.10's JdbcCatalog leaves the
``DatabaseMetaData.getTables`` result of that check open, and on SQLite the open statement holds a
shared lock for the life of the pooled connection, so every later PyIceberg commit fails with
"database is locked". PyIceberg 0.12 creates the "v1" schema (an ``iceberg_type`` column, for
views); JdbcCatalog detects the column and uses it, so no ``jdbc.schema-version`` is needed (on a
v0 catalog both engines stay v0).

Locations differ in form, not in meaning: PyIceberg writes ``file:///path``, Spark's HadoopFileIO
``file:/path`` (data files, manifests, metadata files; the table location stays as created), and
Hadoop's local file system adds a ``.<name>.crc`` file next to every file Spark writes. Compare
locations with `phlo_lakehouse.storage.listing.normalize_location`.

Example:
    >>> from phlo_lakehouse.config import CatalogSettings
    >>> conf = spark_catalog_conf(CatalogSettings.embedded("/tmp/lh"))
    >>> conf["spark.sql.catalog.lakehouse.uri"]
    'jdbc:sqlite:/tmp/lh/catalog.db'
    >>> spark = spark_session_for(CatalogSettings.embedded("/tmp/lh"), jars)  # doctest: +SKIP
    >>> spark.sql("SELECT * FROM lakehouse.demo.events").count()              # doctest: +SKIP
    4000
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from phlo_lakehouse.engines.spark_session import local_conf, local_environment, require_jars
from phlo_lakehouse.errors import InvalidConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from phlo_lakehouse.config import CatalogSettings


def spark_catalog_conf(settings: CatalogSettings) -> dict[str, str]:
    """The ``spark.sql.catalog.<settings.name>.*`` entries matching ``settings`` (no I/O).

    Args:
        settings: a ``sql`` catalog on a SQLite file (``sqlite:///<path>``).

    Returns:
        Spark configuration entries for an Iceberg JDBC catalog on the same file and warehouse.
        Table caching is off, so Spark sees commits PyIceberg makes between two queries, and
        Spark does not create the catalog tables (see the module docstring).

    Raises:
        InvalidConfig: the catalog is not a file-based SQLite ``sql`` catalog.
    """
    uri = settings.uri or ""
    if settings.type != "sql" or not uri.startswith("sqlite"):
        raise InvalidConfig(
            f"no Spark catalog mapping for the {settings.describe()}",
            hint="spark_session_for supports sql catalogs on SQLite (CatalogSettings.embedded)",
        )
    path = urlparse(uri).path[1:]  # sqlite:///<path>: drop the separator slash
    if path in ("", ":memory:"):
        raise InvalidConfig(
            "an in-memory SQLite catalog cannot be shared with Spark",
            hint="use a SQLite file, e.g. CatalogSettings.embedded(tmp_dir)",
        )
    prefix = f"spark.sql.catalog.{settings.name}"
    return {
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.type": "jdbc",
        f"{prefix}.uri": f"jdbc:sqlite:{Path(path).absolute()}",
        f"{prefix}.warehouse": settings.warehouse or "",
        f"{prefix}.jdbc.init-catalog-tables": "false",
        f"{prefix}.cache-enabled": "false",
    }


def spark_session_for(
    settings: CatalogSettings,
    jars: Sequence[str],
    *,
    app_name: str = "phlo-lakehouse-tests",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A ``local[2]`` SparkSession with an Iceberg catalog named ``settings.name``.

    The session binds to 127.0.0.1, has no UI, two shuffle partitions, the UTC session time
    zone and Iceberg's SQL extensions (``CALL``, ``MERGE`` …). The jars go on the driver's class
    path (not ``spark.jars``): JDBC drivers must be visible to ``java.sql.DriverManager``.
    A JVM starts once per Python process, so the first session's jars stay for later sessions.
    Opens the catalog with PyIceberg first, which creates its tables if they are missing.

    Args:
        settings: the catalog to expose (see `spark_catalog_conf`).
        jars: paths of the Iceberg Spark runtime and sqlite-jdbc jars.
        app_name: the Spark application name.
        extra_conf: more Spark settings (they win over the defaults).

    Raises:
        InvalidConfig: unsupported catalog, or a jar does not exist.
    """
    require_jars(jars, InvalidConfig)
    conf = {
        **local_conf(jars),
        "spark.default.parallelism": "2",
        **spark_catalog_conf(settings),
        **(extra_conf or {}),
    }
    from phlo_lakehouse.catalogs import build_catalog

    build_catalog(settings)  # creates the catalog tables Spark expects (PyIceberg's "v1" schema)
    local_environment()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
