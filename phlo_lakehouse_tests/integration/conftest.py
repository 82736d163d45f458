"""Fixtures for cross-engine tests: one Spark session per test session, on one shared lakehouse.

Starting Spark costs seconds, and its catalogs are fixed when the session starts, so every Spark
test shares ``shared_lakehouse`` (a SQLite catalog + local warehouse in a session temp dir) and
creates its tables in a namespace of its own (``unique_name``).

Spark needs Java, pyspark and the jars ``bash scripts/spark_jars.sh`` fetches (listed in
``.services/spark-jars.txt``; ``PHLO_TEST_SPARK_JARS``, colon-separated, overrides the list).
Missing pieces skip the Spark tests, or fail them with ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse_tests.conftest import missing_service

REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_HINT = "fetch the jars with `bash scripts/spark_jars.sh`"


def _unavailable(message: str) -> None:
    missing_service(f"Spark unavailable: {message}")


def spark_jars() -> list[str]:
    """The jar paths from ``PHLO_TEST_SPARK_JARS`` or ``.services/spark-jars.txt`` (may be [])."""
    raw = os.environ.get("PHLO_TEST_SPARK_JARS")
    if raw:
        return [jar for jar in raw.split(os.pathsep) if jar]
    services = Path(os.environ.get("PHLO_SERVICES_DIR") or REPO_ROOT / ".services")
    listing = services / "spark-jars.txt"
    return listing.read_text().split() if listing.is_file() else []


@pytest.fixture(scope="session")
def shared_lakehouse(tmp_path_factory: pytest.TempPathFactory) -> IcebergLakehouse:
    """An embedded lakehouse shared by the whole session (give each test its own namespace).

    The SQLite catalog tables are created here, by PyIceberg, before Spark opens the file.
    """
    lakehouse = IcebergLakehouse(
        CatalogSettings.embedded(tmp_path_factory.mktemp("spark-lakehouse"))
    )
    lakehouse.catalog()
    return lakehouse


@pytest.fixture(scope="session")
def spark(shared_lakehouse: IcebergLakehouse) -> Iterator[object]:
    """The session's SparkSession, whose Iceberg catalog ``shared_lakehouse.settings.name`` is
    the shared lakehouse's catalog (Iceberg JDBC catalog on the same SQLite file)."""
    if importlib.util.find_spec("pyspark") is None:
        _unavailable("pyspark is not installed (pip install -e '.[dev]')")
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        _unavailable("no java on PATH or in JAVA_HOME (bash scripts/system_deps.sh installs it)")
    jars = spark_jars()
    missing = [jar for jar in jars if not Path(jar).is_file()]
    if not jars or missing:
        _unavailable(f"jars missing ({', '.join(missing) or 'no jar list'}): {FETCH_HINT}")

    from phlo_lakehouse.testing.spark import spark_session_for

    session = spark_session_for(shared_lakehouse.settings, jars)
    yield session
    session.stop()
