"""Fixtures for the engine tests: a real Spark Connect server and one local SparkSession.

The Spark Connect server is ``scripts/services/spark_connect.sh`` (its URL from
``PHLO_TEST_SPARK_CONNECT_URL``, else ``sc://127.0.0.1:$PHLO_TEST_SPARK_CONNECT_PORT``, default
port 21051); its catalog ``lakehouse`` is a SQLite catalog in ``PHLO_TEST_SPARK_CONNECT_HOME``
(default ``.services/spark-connect``) that the tests open with PyIceberg too. The local session
starts once per test session with the jars the server uses (``spark_connect.sh jars``: Iceberg
runtime, sqlite-jdbc, iceberg-aws-bundle for S3). Each test works in a namespace of its own.

Missing pieces skip the Spark tests, or fail them with ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse_tests.conftest import missing_service

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = Path(os.environ.get("PHLO_SERVICES_DIR") or REPO_ROOT / ".services")
START_HINT = "start it with `bash scripts/services/spark_connect.sh start`"
#: The local session's catalog name: not "lakehouse", which other Spark tests of the same
#: process may have bound to another SQLite file in the one JVM a process gets.
LOCAL_CATALOG = "engines_local"


def unavailable(message: str) -> None:
    """Skip, or fail with ``CI=true``."""
    missing_service(f"Spark unavailable: {message}")


def connect_url() -> str:
    """The test server's Spark Connect URL."""
    port = os.environ.get("PHLO_TEST_SPARK_CONNECT_PORT", "21051")
    return os.environ.get("PHLO_TEST_SPARK_CONNECT_URL") or f"sc://127.0.0.1:{port}"


def free_port() -> int:
    """A loopback port nothing listens on (for the unreachable-Spark tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require_spark() -> None:
    if importlib.util.find_spec("pyspark") is None:
        unavailable("pyspark is not installed (pip install -e '.[dev]')")
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        unavailable("no java on PATH or in JAVA_HOME (bash scripts/system_deps.sh installs it)")


@pytest.fixture(scope="session")
def spark_connect_url() -> str:
    """The URL of the running Spark Connect server."""
    _require_spark()
    url = connect_url()
    host, port = url.removeprefix("sc://").split("/")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        unavailable(f"no Spark Connect server at {url}: {START_HINT}")
    return url


@pytest.fixture(scope="session")
def connect_lakehouse(spark_connect_url: str) -> IcebergLakehouse:
    """The lakehouse whose SQLite catalog the Spark Connect server serves as ``lakehouse``."""
    home = os.environ.get("PHLO_TEST_SPARK_CONNECT_HOME") or SERVICES_DIR / "spark-connect"
    if not Path(home, "catalog.db").is_file():
        unavailable(f"no Spark Connect catalog in {home}: {START_HINT}")
    return IcebergLakehouse(CatalogSettings.embedded(home))


@pytest.fixture(scope="session")
def connect_engine(connect_lakehouse: IcebergLakehouse, spark_connect_url: str) -> Iterator:
    """A `SparkEngine` on the Spark Connect server (one Spark Connect session)."""
    from phlo_lakehouse.engines import SparkEngine

    engine = SparkEngine(connect_lakehouse.settings, remote=spark_connect_url)
    engine.check()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def engine_jars() -> list[str]:
    """Jars of the local session: what the Spark Connect server runs with, minus spark-connect."""
    _require_spark()
    script = REPO_ROOT / "scripts" / "services" / "spark_connect.sh"
    done = subprocess.run(
        ["bash", str(script), "jars"], capture_output=True, text=True, timeout=600, check=False
    )
    jars = [j for j in done.stdout.split() if not Path(j).name.startswith("spark-connect")]
    names = " ".join(Path(j).name for j in jars)
    needed = ("iceberg-spark-runtime", "sqlite-jdbc", "iceberg-aws-bundle")
    if done.returncode or not all(f" {n}" in f" {names}" for n in needed):
        unavailable(f"jars missing ({names}): {done.stderr.strip()[-300:]} (bash {script} jars)")
    return jars


@pytest.fixture(scope="session")
def local_lakehouse(tmp_path_factory: pytest.TempPathFactory) -> IcebergLakehouse:
    """An embedded lakehouse that the local SparkSession's engine serves."""
    lakehouse = IcebergLakehouse(
        CatalogSettings.embedded(tmp_path_factory.mktemp("engines-local"), name=LOCAL_CATALOG)
    )
    lakehouse.catalog()  # PyIceberg creates the catalog tables before Spark opens the file
    return lakehouse


@pytest.fixture(scope="session")
def local_engine(local_lakehouse: IcebergLakehouse, engine_jars: list[str]) -> Iterator:
    """A `SparkEngine` on a local SparkSession (local[2]) it starts itself."""
    from phlo_lakehouse.engines import SparkEngine

    engine = SparkEngine(local_lakehouse.settings, jars=engine_jars)
    engine.check()
    yield engine
    engine.stop()


@pytest.fixture(params=["connect", "local"])
def spark_setup(request: pytest.FixtureRequest) -> tuple:
    """(lakehouse, engine) on the Spark Connect server, then on the local session."""
    if request.param == "connect":
        return request.getfixturevalue("connect_lakehouse"), request.getfixturevalue(
            "connect_engine"
        )
    return request.getfixturevalue("local_lakehouse"), request.getfixturevalue("local_engine")
