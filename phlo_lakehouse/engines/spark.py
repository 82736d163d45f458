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
    >>> engine = SparkEngine(CatalogSettings.embedded("/tmp/lh"), remote="sc://127.0.0.1:21051")
    >>> engine.name, engine.target
    ('spark', 'sc://127.0.0.1:21051')
    >>> lakehouse.run(OptimizeOperation(), "demo.events", engine=engine)   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.engines.spark_catalog import catalog_conf, spark_catalog_name
from phlo_lakehouse.engines.spark_session import (
    ICEBERG_EXTENSIONS,
    START_HINT,
    conf_get,
    connect_session,
    first_line,
    parse_connect_url,
    start_local_session,
)
from phlo_lakehouse.errors import (
    CommitStateUnknown,
    Conflict,
    InvalidConfig,
    OperationFailed,
    SparkUnavailable,
)

if TYPE_CHECKING:
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.operations.base import OperationPlan, OperationResult, TableOperation
    from phlo_lakehouse.table import LakehouseTable

DEFAULT_CONNECT_TIMEOUT = 10.0
#: Iceberg Java errors that mean "the table moved under the commit": the executor re-plans.
_CONFLICT_ERRORS = ("CommitFailedException", "ValidationException")
#: Iceberg's answer when a commit's outcome is unknown: never a conflict (re-planning could
#: rewrite data a landed commit already replaced); settled by re-reading the table.
_UNKNOWN_ERRORS = ("CommitStateUnknownException",)


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
        >>> SparkEngine(remote="sc://127.0.0.1:21051").target
        'sc://127.0.0.1:21051'
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
            parse_connect_url(remote)
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
                if self.remote:
                    session = connect_session(self.remote, self.connect_timeout)
                    self._session, self._owns_session = session, True
                else:
                    self._session, self._owns_session = start_local_session(
                        self.master, self.jars, self.spark_conf
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
        extensions = conf_get(spark, "spark.sql.extensions") or ""
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
            if conf_get(spark, f"spark.sql.catalog.{name}") is None:
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
            current = {key: conf_get(spark, key) for key in wanted}
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
        from phlo_lakehouse.engines.mapping import procedure_call
        from phlo_lakehouse.engines.results import result_from_rows, unchanged

        call = procedure_call(operation, table, plan, now=datetime.now(UTC))
        if call is None:  # the plan has nothing to do, as the local engine would find
            return unchanged(plan, self._details(None, None))
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
        except Exception as e:
            text = str(e)
            if any(name in text for name in _UNKNOWN_ERRORS):
                raise CommitStateUnknown(
                    f"{what} on Spark: the commit's outcome is unknown: {first_line(e)}",
                    hint="nothing was deleted; check the table's latest snapshot before "
                    "re-running (files of a commit that did not land are left for vacuum)",
                ) from e
            if any(name in text for name in _CONFLICT_ERRORS):
                raise Conflict(
                    f"{what} on Spark conflicted: {first_line(e)}",
                    hint="the table changed concurrently; the executor re-plans and retries",
                ) from e
            if _looks_unreachable(e):
                raise SparkUnavailable(
                    f"Spark at {self.target} stopped answering: {first_line(e)}",
                    hint=START_HINT if self.remote else "check the Spark driver",
                ) from e
            raise OperationFailed(
                f"{what} failed on Spark: {first_line(e)}",
                hint="the Spark procedure either committed nothing or committed its own "
                "partial progress; the result of a re-run shows the table's state",
            ) from e

    def _details(self, procedure: str | None, sql: str | None) -> dict[str, Any]:
        details: dict[str, Any] = {"engine": self.name, "spark": {"target": self.target}}
        if procedure:
            details["spark"].update(procedure=procedure, sql=sql)
        return details


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
