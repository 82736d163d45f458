"""Fixtures of the Nessie GC tests: a fresh history on the GC tests' own Nessie server."""

from __future__ import annotations

import pytest

from phlo_lakehouse.lakehouse import IcebergLakehouse
from phlo_lakehouse_tests.gc.histories import History
from phlo_lakehouse_tests.gc.oracle import s3_client


@pytest.fixture
def gc_lakehouse(gc_nessie) -> IcebergLakehouse:
    """A lakehouse on the GC tests' Nessie, with no history (every reference but an empty main
    deleted)."""
    gc_nessie.reset()
    return gc_nessie.lakehouse()


@pytest.fixture
def history(gc_lakehouse: IcebergLakehouse) -> History:
    return History(gc_lakehouse)


@pytest.fixture
def s3(s3_endpoint: str):
    return s3_client(s3_endpoint)
