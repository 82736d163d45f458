"""Shared fixtures: real embedded lakehouses and the real services started by scripts/services.

Service endpoints come from the environment that ``scripts/services/all.sh start`` writes to
``.services/env.sh`` (``make test`` sources it). Outside CI a missing service skips its tests;
with ``CI=true`` it fails them, so CI can never pass on skipped integration tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse

IN_CI = os.environ.get("CI", "").lower() == "true"
#: The markers of tests that need a service started by scripts/services (pyproject's markers).
SERVICE_MARKERS = frozenset(
    {"postgres", "moto", "nessie", "iceberg_rest", "spark", "spark_connect", "hive", "pushgateway"}
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``needs_service`` every test carrying a service marker, so the service-free tier
    is ``-m "not needs_service"`` (`make test-fast`; CI runs it on Python 3.12 and 3.13)."""
    for item in items:
        if any(mark.name in SERVICE_MARKERS for mark in item.iter_markers()):
            item.add_marker(pytest.mark.needs_service)


def missing_service(message: str, *, module: bool = False) -> None:
    """Skip the test (``module``: the whole module, at import), or with ``CI=true`` fail it: in
    CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"CI: required service missing: {message}")
    pytest.skip(message, allow_module_level=module)  # outside CI only (failed above in CI)


def require_env(name: str, service: str) -> str:
    """The value of ``name``, or skip (fail in CI) naming the script that starts ``service``."""
    value = os.environ.get(name)
    if value:
        return value
    missing_service(
        f"{name} is not set: start {service} with `bash scripts/services/all.sh start {service}` "
        "and `source .services/env.sh` (make test does both)"
    )
    raise AssertionError("unreachable")


@pytest.fixture
def lakehouse(tmp_path: Path) -> IcebergLakehouse:
    """An empty embedded lakehouse (SQLite catalog, local warehouse) in a temp dir."""
    return IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lakehouse"))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_env("PHLO_TEST_POSTGRES_URL", "postgres")


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return require_env("PHLO_TEST_S3_ENDPOINT", "moto")


@pytest.fixture(scope="session")
def nessie_uri() -> str:
    return require_env("PHLO_TEST_NESSIE_URI", "nessie")


S3_TEST_PROPERTIES = {
    "s3.access-key-id": "testing",
    "s3.secret-access-key": "testing",
    "s3.region": "us-east-1",
    "s3.path-style-access": "true",
}


def glue_on_moto(s3_endpoint: str, unique_name: str) -> CatalogSettings:
    """A Glue catalog on moto (Glue and S3 on the same endpoint), its warehouse a fresh prefix."""
    return CatalogSettings(
        type="glue",
        warehouse=f"s3://warehouse/{unique_name}",
        properties={
            **S3_TEST_PROPERTIES,
            "s3.endpoint": s3_endpoint,
            "glue.endpoint": s3_endpoint,
            "glue.region": "us-east-1",
            "glue.access-key-id": "testing",
            "glue.secret-access-key": "testing",
        },
    )


def moto_client(endpoint: str, service: str = "s3"):
    """A boto3 client talking to moto directly (tests' oracle for what storage holds)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=os.environ.get("PHLO_TEST_S3_REGION", "us-east-1"),
    )


@pytest.fixture
def unique_name() -> str:
    """A name unique to this test, for namespaces on shared services."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def nessie_lakehouse(nessie_uri: str, s3_endpoint: str) -> Iterator[IcebergLakehouse]:
    """A lakehouse on the real Nessie server (Iceberg REST per ref, S3 warehouse on moto)."""
    settings = CatalogSettings(
        type="nessie",
        uri=nessie_uri,
        warehouse=os.environ.get("PHLO_TEST_NESSIE_WAREHOUSE", "warehouse"),
        properties={**S3_TEST_PROPERTIES, "s3.endpoint": s3_endpoint},
    )
    yield IcebergLakehouse(settings)


@pytest.fixture(scope="session")
def gc_nessie(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Nessie server of the Nessie GC tests' own (phlo_lakehouse_tests/gc/server.py): a GC
    walks every reference of a server, so its tests must not share the run's Nessie."""
    from phlo_lakehouse_tests.gc.server import NessieServer

    try:
        with NessieServer.started(tmp_path_factory.mktemp("gc-nessie"), s3_endpoint) as server:
            yield server
    except RuntimeError as e:
        missing_service(f"the GC tests' own Nessie server did not start: {e}")


@pytest.fixture
def nessie_branch(nessie_lakehouse: IcebergLakehouse, unique_name: str) -> Iterator[str]:
    """A branch ``b_<unique>`` made from main on the real Nessie server, deleted afterwards."""
    name = f"b_{unique_name}"
    nessie_lakehouse.nessie.create_branch(name, from_ref="main")
    yield name
    nessie_lakehouse.nessie.delete(name)
