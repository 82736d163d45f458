"""`SparkEngine`: carries our operations' plans out through Iceberg's Spark procedures.

The executor still plans (and dry runs stay ours); the engine turns the operation's options into
one ``CALL <catalog>.system.<procedure>(...)`` with literal arguments (`phlo_lakehouse.engines.
mapping`), runs it on Spark, and maps the procedure's output rows and the commit it made back
into an `OperationResult` with the plan's figure keys.

Spark is reached through a Spark Connect URL (``sc://host:port``), a given SparkSession, or a
local SparkSession started on first use. The Iceberg catalog Spark uses is configured to match
ours (`catalog_conf`) with session-level settings (``spark.conf.set``), which both classic and
Spark Connect sessions accept for catalogs not loaded yet; a catalog of the same name that
Spark already knows with other settings is an error, never silently reused. Iceberg's SQL
extensions (``CALL``) are a static setting: a Spark Connect server must be started with them.

Example:
    >>> from phlo_lakehouse.config import CatalogSettings
    >>> engine = SparkEngine(CatalogSettings.embedded("/tmp/lh"), remote="sc://127.0.0.1:55051")
    >>> engine.name, engine.target
    ('spark', 'sc://127.0.0.1:55051')
    >>> lakehouse.run(OptimizeOperation(), "demo.events", engine=engine)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from phlo_lakehouse.errors import (
    CatalogUnavailable,
    CommitStateUnknown,
    Conflict,
    InvalidConfig,
    OperationFailed,
)

if TYPE_CHECKING:
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
SPARK_CATALOG = "org.apache.iceberg.spark.SparkCatalog"
S3_FILE_IO = "org.apache.iceberg.aws.s3.S3FileIO"
GLUE_CATALOG = "org.apache.iceberg.aws.glue.GlueCatalog"
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Starts of a local session tried before giving up.
LOCAL_START_ATTEMPTS = 2
_CONNECT_URL = re.compile(
    r"^sc://(?P<host>\[[^\]]+\]|[^:/;]+)(?::(?P<port>\d+))?/?(?P<params>;.*)?$"
)
_DEFAULT_CONNECT_PORT = 15002
#: PyIceberg catalog properties whose Iceberg Java name differs (others pass unchanged).
_JAVA_PROPERTY_NAMES = {"s3.region": "client.region", "glue.region": "client.region"}
#: Iceberg Java errors that mean "the table moved under the commit": the executor re-plans.
_CONFLICT_ERRORS = ("CommitFailedException", "ValidationException")
#: Iceberg's answer when a commit's outcome is unknown: never a conflict (re-planning could
#: rewrite data a landed commit already replaced); settled by re-reading the table.
_UNKNOWN_ERRORS = ("CommitStateUnknownException",)
_START_HINT = (
    "start it with `bash scripts/services/spark_connect.sh start` or fix the sc://host:port URL"
)


class SparkUnavailable(CatalogUnavailable):
    """Error when the Spark engine (a Spark Connect server or local Spark) cannot be reached."""


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


class SparkEngine:
    """Runs operations through Iceberg's Spark procedures.

    Args:
        settings: our catalog; the engine configures a Spark catalog to match it. None: use the
            Spark catalog ``catalog`` (default: the PyIceberg catalog's name) exactly as the
            Spark session or Spark Connect server already configures it.
        remote: a Spark Connect URL, ``sc://host:port`` (port 15002 when omitted).
        session: a SparkSession to use (classic or Spark Connect).
        catalog: the Spark catalog name when ``settings`` is None.
        master: the master of a local session started when neither ``remote`` nor ``session``
            is given (default ``local[2]``).
        jars: jars for that local session's driver class path (Iceberg Spark runtime, JDBC
            driver, iceberg-aws-bundle for S3).
        spark_conf: more settings for that local session.
        connect_timeout: seconds to wait for Spark Connect to answer before failing.

    Raises:
        InvalidConfig: conflicting or malformed arguments (no I/O happens here).

    Example:
        >>> SparkEngine(remote="sc://127.0.0.1:55051").target
        'sc://127.0.0.1:55051'
    """

    name = "spark"

    def __init__(
        self,
        settings: CatalogSettings | None = None,
        *,
        remote: str | None = None,
        session: Any = None,
        catalog: str | None = None,
        master: str = "local[2]",
        jars: Sequence[str] = (),
        spark_conf: Mapping[str, str] | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        if remote is not None and session is not None:
            raise InvalidConfig(
                "pass either remote= or session= to SparkEngine, not both",
                hint="remote is a Spark Connect URL; session an existing SparkSession",
            )
        if remote is not None:
            _parse_connect_url(remote)
        if connect_timeout <= 0:
            raise InvalidConfig(
                f"connect_timeout={connect_timeout!r} must be positive", hint="e.g. 10 (seconds)"
            )
        if settings is not None and catalog is not None:
            raise InvalidConfig(
                "pass either settings= or catalog= to SparkEngine, not both",
                hint="with settings the Spark catalog name follows them",
            )
        self.settings = settings
        self.remote = remote
        self.catalog = catalog
        self.master = master
        self.jars = list(jars)
        self.spark_conf = dict(spark_conf or {})
        self.connect_timeout = connect_timeout
        self._session = session
        self._owns_session = False
        self._configured: set[str] = set()
        self._checked = False
        self._lock = threading.RLock()

    @property
    def target(self) -> str:
        """Where the engine runs: the Spark Connect URL, the local master, or "session"."""
        if self.remote:
            return self.remote
        return "session" if self._session is not None and not self._owns_session else self.master

    # -- reaching Spark --------------------------------------------------------------------------

    def session(self) -> Any:
        """The SparkSession, connected or started on first use.

        Raises:
            SparkUnavailable: Spark Connect does not answer within ``connect_timeout``, or local
                Spark cannot start.
        """
        with self._lock:
            if self._session is None:
                self._session, self._owns_session = (
                    (self._connect(), True) if self.remote else self._start_local()
                )
            return self._session

    def check(self) -> None:
        """Reach Spark now (and check Iceberg's SQL extensions are on), changing nothing.

        Raises:
            SparkUnavailable: Spark cannot be reached.
            InvalidConfig: the session has no Iceberg SQL extensions (no ``CALL``).
        """
        spark = self.session()
        if self._checked:
            return
        extensions = _conf_get(spark, "spark.sql.extensions") or ""
        if ICEBERG_EXTENSIONS not in extensions:
            raise InvalidConfig(
                f"the Spark session at {self.target} has no Iceberg SQL extensions",
                hint=f"start Spark with spark.sql.extensions={ICEBERG_EXTENSIONS}",
            )
        self._checked = True

    def stop(self) -> None:
        """Stop the session this engine started; the next call connects or starts again. A
        given or pre-existing session is not this engine's to stop."""
        with self._lock:
            if self._session is None or not self._owns_session:
                return
            self._session.stop()
            self._session = None
            self._owns_session = False
            self._checked = False
            self._configured.clear()

    def _connect(self) -> Any:
        assert self.remote is not None
        host, port = _parse_connect_url(self.remote)
        # A closed port fails in milliseconds here; the Spark Connect client would retry with
        # backoff for minutes before reporting it.
        try:
            with socket.create_connection((host, port), timeout=self.connect_timeout):
                pass
        except OSError as e:
            raise SparkUnavailable(
                f"cannot reach Spark Connect at {self.remote}: {e.strerror or e}", hint=_START_HINT
            ) from e
        try:
            import grpc
            from pyspark.sql.connect.client import ChannelBuilder
            from pyspark.sql.connect.session import SparkSession as RemoteSparkSession
        except ImportError as e:
            raise SparkUnavailable(
                f"the Spark Connect client cannot be imported: {e}",
                hint="pip install 'pyspark[connect]==3.5.*' (pandas, grpcio-status)",
            ) from e
        channel = ChannelBuilder(self.remote).toChannel()
        try:
            grpc.channel_ready_future(channel).result(timeout=self.connect_timeout)
        except grpc.FutureTimeoutError as e:
            raise SparkUnavailable(
                f"{self.remote} accepts connections but does not speak Spark Connect (no gRPC "
                f"answer within {self.connect_timeout:g}s)",
                hint=_START_HINT,
            ) from e
        finally:
            channel.close()
        return RemoteSparkSession.builder.remote(self.remote).create()

    def _start_local(self) -> tuple[Any, bool]:
        """A local session, and whether this engine started it (a JVM holds one SparkContext:
        a session already running in this process is reused, its jars and static settings
        stay, and it is not this engine's to stop)."""
        missing = [jar for jar in self.jars if not Path(jar).is_file()]
        if missing:
            raise SparkUnavailable(
                f"Spark jars not found: {', '.join(missing)}",
                hint="fetch them with `bash scripts/spark_jars.sh`",
            )
        conf = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.extensions": ICEBERG_EXTENSIONS,
            **(
                {
                    "spark.driver.extraClassPath": os.pathsep.join(self.jars),
                    "spark.executor.extraClassPath": os.pathsep.join(self.jars),
                }
                if self.jars
                else {}
            ),
            **self.spark_conf,
        }
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        try:
            from pyspark.sql import SparkSession
        except ImportError as e:
            raise SparkUnavailable(
                f"pyspark cannot be imported: {e}", hint="pip install 'pyspark==3.5.*'"
            ) from e
        existing = SparkSession.getActiveSession()
        builder = SparkSession.builder.master(self.master).appName("phlo-lakehouse")
        for key, value in conf.items():
            builder = builder.config(key, value)
        session = None
        for attempt in range(LOCAL_START_ATTEMPTS):
            try:
                session = builder.getOrCreate()
                break
            except Exception as e:  # noqa: BLE001 - Py4J/JVM start-up errors have many types
                # A JVM that exits before handing over its gateway port is sometimes transient
                # (a fork racing other threads of the process); a second start is cheap.
                if attempt + 1 == LOCAL_START_ATTEMPTS:
                    raise SparkUnavailable(
                        f"local Spark ({self.master}) could not start: {_first_line(e)}",
                        hint="check Java (8/11/17) and the jars (bash scripts/spark_jars.sh)",
                    ) from e
                time.sleep(1.0)
        assert session is not None
        if existing is None:
            session.sparkContext.setLogLevel("WARN")
        return session, existing is None

    # -- catalog --------------------------------------------------------------------------------

    def catalog_for(self, table: LakehouseTable) -> str:
        """The Spark catalog that serves ``table``, configured on the session if needed.

        Raises:
            InvalidConfig: Spark already knows a catalog of that name with other settings, or
                (without ``settings``) knows none of that name.
        """
        spark = self.session()
        if self.settings is None:
            name = self.catalog or table.table.catalog.name
            if _conf_get(spark, f"spark.sql.catalog.{name}") is None:
                raise InvalidConfig(
                    f"the Spark session at {self.target} has no catalog named {name!r}",
                    hint="pass settings= so the engine configures it, or configure "
                    f"spark.sql.catalog.{name} on the Spark Connect server",
                )
            return name
        ref = table.ref if table.nessie else None
        name = spark_catalog_name(self.settings, ref)
        with self._lock:
            if name in self._configured:
                return name
            wanted = catalog_conf(self.settings, ref, name=name)
            current = {key: _conf_get(spark, key) for key in wanted}
            differing = sorted(k for k, v in wanted.items() if current[k] not in (None, v))
            if differing:
                raise InvalidConfig(
                    f"Spark catalog {name!r} at {self.target} is configured differently from "
                    f"the {self.settings.describe()} ({differing[0]})",
                    hint="use another catalog name, or settings that match the Spark catalog",
                )
            for key, value in wanted.items():
                if current[key] is None:
                    spark.conf.set(key, value)
            self._configured.add(name)
        return name

    # -- execution ------------------------------------------------------------------------------

    def validate(self, operation: TableOperation) -> None:
        """Fail when ``operation`` has an option Iceberg's Spark procedures cannot express.

        Raises:
            InvalidInput: the option and what to do instead.
        """
        from phlo_lakehouse.engines.mapping import check_mappable

        check_mappable(operation)

    def execute(
        self, operation: TableOperation, table: LakehouseTable, plan: OperationPlan
    ) -> OperationResult:
        """Run the procedure for ``plan`` and map its output into the operation's result.

        Everything that can fail without Spark (options, refs, the 24-hour orphan guard) fails
        before Spark is contacted; an unreachable Spark fails before anything is changed.

        Raises:
            InvalidInput: an option, ref or cutoff Spark's procedures cannot express.
            SparkUnavailable: Spark cannot be reached.
            Conflict: the commit conflicted (the executor re-plans).
            OperationFailed: the procedure failed otherwise.
        """
        from phlo_lakehouse.engines.mapping import procedure_call, result_from_rows, unchanged

        call = procedure_call(operation, table, plan, now=datetime.now(UTC))
        if call is None:  # the plan has nothing to do, as the local engine would find
            return unchanged(operation, table, plan, self._details(None, None))
        self.check()
        catalog = self.catalog_for(table)
        sql = call.sql(catalog)
        before = table.table.metadata  # Table.refresh() replaces the handle's metadata in place
        details = self._details(call.procedure, sql)
        try:
            rows = self._run(sql, operation, table)
        except CommitStateUnknown as unknown:
            # Iceberg left the procedure's files in place; the commit landed iff the table moved
            # on from the version the procedure started from with a snapshot on top of its head.
            after = table.refresh()
            if not _moved_on(before, after.table.metadata, table.table_ref):
                raise
            extra = {"commit_outcome": "settled by re-reading the table", "error": str(unknown)}
            return result_from_rows(operation, before, plan, [], after, {**details, **extra})
        after = table.refresh()
        return result_from_rows(operation, before, plan, rows, after, details)

    def orphan_files(self, table: LakehouseTable, plan: OperationPlan) -> list[str]:
        """Spark's own dry run of a vacuum plan: the files ``remove_orphan_files`` would delete
        (as Spark spells them), deleting nothing.

        Raises:
            InvalidInput: ``plan`` is not a vacuum plan, or its cutoff is under 24 hours old.
        """
        from phlo_lakehouse.engines.mapping import orphan_files_call

        call = orphan_files_call(table, plan, now=datetime.now(UTC), dry_run=True)
        self.check()
        rows = self._run(call.sql(self.catalog_for(table)), None, table)
        return sorted(row["orphan_file_location"] for row in rows)

    def _run(
        self, sql: str, operation: TableOperation | None, table: LakehouseTable
    ) -> list[dict[str, Any]]:
        what = f"{operation.name if operation else 'Spark procedure'} of {table.identifier}"
        try:
            return [row.asDict() for row in self.session().sql(sql).collect()]
        except Exception as e:  # noqa: BLE001 - Py4J and Spark Connect raise many types
            text = str(e)
            if any(name in text for name in _UNKNOWN_ERRORS):
                raise CommitStateUnknown(
                    f"{what} on Spark: the commit's outcome is unknown: {_first_line(e)}",
                    hint="nothing was deleted; check the table's latest snapshot before "
                    "re-running (files of a commit that did not land are left for vacuum)",
                ) from e
            if any(name in text for name in _CONFLICT_ERRORS):
                raise Conflict(
                    f"{what} on Spark conflicted: {_first_line(e)}",
                    hint="the table changed concurrently; the executor re-plans and retries",
                ) from e
            if _looks_unreachable(e):
                raise SparkUnavailable(
                    f"Spark at {self.target} stopped answering: {_first_line(e)}",
                    hint=_START_HINT if self.remote else "check the Spark driver",
                ) from e
            raise OperationFailed(
                f"{what} failed on Spark: {_first_line(e)}",
                hint="the Spark procedure either committed nothing or committed its own "
                "partial progress; the result of a re-run shows the table's state",
            ) from e

    def _details(self, procedure: str | None, sql: str | None) -> dict[str, Any]:
        details: dict[str, Any] = {"engine": self.name, "spark": {"target": self.target}}
        if procedure:
            details["spark"].update(procedure=procedure, sql=sql)
        return details


def _parse_connect_url(url: str) -> tuple[str, int]:
    match = _CONNECT_URL.match(url or "")
    if not match:
        raise InvalidConfig(
            f"{url!r} is not a Spark Connect URL",
            hint="write sc://host:port, e.g. sc://127.0.0.1:15002",
        )
    host = match.group("host").strip("[]")
    return host, int(match.group("port") or _DEFAULT_CONNECT_PORT)


def _conf_get(spark: Any, key: str) -> str | None:
    try:
        return spark.conf.get(key, None)
    except Exception:  # noqa: BLE001 - an unknown key raises on some Spark versions
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # Spark errors start with an error class ("[INTERNAL_ERROR] ..."), Py4J with the Java
    # exception name; the first non-empty line carries the message either way.
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(error).__name__)
    return line[:300]


def _moved_on(before: Any, after: Any, branch: str) -> bool:
    """Whether ``after`` has a snapshot, unknown ``before``, whose parent is the branch head
    ``before`` had (the procedure's commit, or one built on it)."""
    head = before.refs.get(branch)
    known = {s.snapshot_id for s in before.snapshots}
    if head is None:
        return False
    return any(
        s.snapshot_id not in known and s.parent_snapshot_id == head.snapshot_id
        for s in after.snapshots
    )


def _looks_unreachable(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}".lower()
    return any(
        w in text for w in ("statuscode.unavailable", "failed to connect", "connection refused")
    )
