"""Reaching Spark: a Spark Connect session (checked to answer first, so a wrong URL fails in
seconds, not after minutes of client retries) or a local SparkSession started with our jars.

Example:
    >>> parse_connect_url("sc://127.0.0.1:15002")
    ('127.0.0.1', 15002)
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from phlo_lakehouse.errors import InvalidConfig, LakehouseError, SparkUnavailable

ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
#: Starts of a local session tried before giving up.
LOCAL_START_ATTEMPTS = 2
START_HINT = (
    "start it with `bash scripts/services/spark_connect.sh start` or fix the sc://host:port URL"
)
_CONNECT_URL = re.compile(
    r"^sc://(?P<host>\[[^\]]+\]|[^:/;]+)(?::(?P<port>\d+))?/?(?P<params>;.*)?$"
)
_DEFAULT_CONNECT_PORT = 15002


def connect_session(remote: str, connect_timeout: float) -> Any:
    """A Spark Connect session to ``remote``, after checking it answers gRPC.

    Raises:
    SparkUnavailable: nothing listens there, or it does not speak Spark Connect within
        ``connect_timeout`` seconds.
    """
    host, port = parse_connect_url(remote)
    # A closed port fails in milliseconds here; the Spark Connect client would retry with
    # backoff for minutes before reporting it.
    try:
        with socket.create_connection((host, port), timeout=connect_timeout):
            pass
    except OSError as e:
        raise SparkUnavailable(
            f"cannot reach Spark Connect at {remote}: {e.strerror or e}", hint=START_HINT
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
    channel = ChannelBuilder(remote).toChannel()
    try:
        grpc.channel_ready_future(channel).result(timeout=connect_timeout)
    except grpc.FutureTimeoutError as e:
        raise SparkUnavailable(
            f"{remote} accepts connections but does not speak Spark Connect (no gRPC "
            f"answer within {connect_timeout:g}s)",
            hint=START_HINT,
        ) from e
    finally:
        channel.close()
    return RemoteSparkSession.builder.remote(remote).create()


def start_local_session(
    master: str, jars: Sequence[str], spark_conf: Mapping[str, str]
) -> tuple[Any, bool]:
    """A local session, and whether this call started it (a JVM holds one SparkContext: a
    session already running in this process is reused, its jars and static settings stay, and
    it is not the caller's to stop).

    Raises:
    SparkUnavailable: a jar is missing, pyspark is not installed, or Spark cannot start.
    """
    require_jars(jars, SparkUnavailable)
    conf = {**local_conf(jars), **spark_conf}
    local_environment()
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise SparkUnavailable(
            f"pyspark cannot be imported: {e}", hint="pip install 'pyspark==3.5.*'"
        ) from e
    existing = SparkSession.getActiveSession()
    builder = SparkSession.builder.master(master).appName("phlo-lakehouse")
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = None
    for attempt in range(LOCAL_START_ATTEMPTS):
        try:
            session = builder.getOrCreate()
            break
        except Exception as e:
            # A JVM that exits before handing over its gateway port is sometimes transient
            # (a fork racing other threads of the process); a second start is cheap.
            if attempt + 1 == LOCAL_START_ATTEMPTS:
                raise SparkUnavailable(
                    f"local Spark ({master}) could not start: {first_line(e)}",
                    hint="check Java (8/11/17) and the jars (bash scripts/spark_jars.sh)",
                ) from e
            time.sleep(1.0)
    assert session is not None
    if existing is None:
        session.sparkContext.setLogLevel("WARN")
    return session, existing is None


def require_jars(jars: Sequence[str], error: type[LakehouseError]) -> None:
    """Raise ``error`` naming every jar in ``jars`` that is not a file."""
    missing = [jar for jar in jars if not Path(jar).is_file()]
    if missing:
        raise error(
            f"Spark jars not found: {', '.join(missing)}",
            hint="fetch them with `bash scripts/spark_jars.sh`",
        )


def local_conf(jars: Sequence[str]) -> dict[str, str]:
    """The settings of every local session: bound to 127.0.0.1, no UI, two shuffle partitions,
    the UTC session time zone, Iceberg's SQL extensions, and ``jars`` on the driver's and
    executors' class path (not ``spark.jars``: JDBC drivers must be visible to
    ``java.sql.DriverManager``)."""
    class_path = os.pathsep.join(jars)
    return {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.extensions": ICEBERG_EXTENSIONS,
        **(
            {"spark.driver.extraClassPath": class_path, "spark.executor.extraClassPath": class_path}
            if class_path
            else {}
        ),
    }


def local_environment() -> None:
    """Point a local JVM at the loopback address and its Python workers at this interpreter."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def parse_connect_url(url: str) -> tuple[str, int]:
    match = _CONNECT_URL.match(url or "")
    if not match:
        raise InvalidConfig(
            f"{url!r} is not a Spark Connect URL",
            hint="write sc://host:port, e.g. sc://127.0.0.1:15002",
        )
    host = match.group("host").strip("[]")
    return host, int(match.group("port") or _DEFAULT_CONNECT_PORT)


def conf_get(spark: Any, key: str) -> str | None:
    try:
        return spark.conf.get(key, None)
    except Exception:  # noqa: BLE001 - an unknown key raises on some Spark versions
        return None


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    # Spark errors start with an error class ("[INTERNAL_ERROR] ..."), Py4J with the Java
    # exception name; the first non-empty line carries the message either way.
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(error).__name__)
    return line[:300]
