"""Fixtures for the Dagster layer: a seeded embedded lakehouse and its resource."""

import dagster as dg
import pytest

from phlo_lakehouse.dagster import LakehouseResource
from phlo_lakehouse.demo import plant_orphans, seed_demo_table


@pytest.fixture
def home(tmp_path):
    return tmp_path / "lakehouse"


@pytest.fixture
def resource(home) -> LakehouseResource:
    return LakehouseResource(home=str(home))


@pytest.fixture
def fragmented(resource):
    """demo.events with 20 small commits and 5 old orphans; returns the handle."""
    handle = seed_demo_table(
        resource.get_lakehouse(), "demo.events", commits=20, rows_per_commit=50
    )
    plant_orphans(handle, count=5)
    return handle


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst
