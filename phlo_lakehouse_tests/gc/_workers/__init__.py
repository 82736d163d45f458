"""Processes the GC tests run beside the test process: a writer committing on a branch while a GC
runs, and a GC that SIGKILLs itself at a chosen point."""

from __future__ import annotations

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse_tests.gc.server import S3_PROPERTIES


def lakehouse_for(nessie_uri: str, s3_endpoint: str) -> IcebergLakehouse:
    """The lakehouse on the GC tests' Nessie, as a separate process builds it."""
    return IcebergLakehouse(
        CatalogSettings(
            type="nessie",
            uri=nessie_uri,
            warehouse="warehouse",
            properties={**S3_PROPERTIES, "s3.endpoint": s3_endpoint},
        )
    )
