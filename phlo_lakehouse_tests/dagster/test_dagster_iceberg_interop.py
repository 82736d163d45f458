"""dagster-iceberg writes the asset's table; our checks and maintenance land on the same asset.

dagster-iceberg (0.3.9) maps an asset key to a table as ``<namespace>.<key[-1]>``, the namespace
being, in order: the output's ``schema`` metadata, the IO manager's ``namespace``, ``key[-2]``,
else ``public``. So ``AssetKey(["raw", "orders"])`` is ``raw.orders``, which the default
`LakehouseTranslator` maps back to the same key; with an IO manager ``namespace`` the key has no
namespace in it and the translator must be told (second test). The IO manager does not create
namespaces: the tests create them first.

The maintenance ops pass their items through the code location's default ``io_manager``, so
dagster-iceberg is bound under its own key here (``iceberg_io_manager``); bound as the default
``io_manager`` it breaks the maintenance jobs (``test_dagster_iceberg_as_default_io_manager``).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from phlo_lakehouse_tests.conftest import missing_service

try:
    from dagster_iceberg.config import IcebergCatalogConfig
    from dagster_iceberg.io_manager.arrow import PyArrowIcebergIOManager
except ImportError:  # the optional extra; `make install` installs it
    missing_service(
        "dagster-iceberg is not installed: pip install -e '.[dagster-iceberg]'", module=True
    )

from phlo_lakehouse.dagster import LakehouseResource, LakehouseTranslator
from phlo_lakehouse.dagster.checks import CHECK_NAME, table_stats_checks
from phlo_lakehouse.dagster.factories import lakehouse_maintenance_definitions
from phlo_lakehouse.identifiers import TableIdentifier

pytestmark = pytest.mark.filterwarnings("ignore:.*is currently in preview")

CATALOG = "lakehouse"  # SqlCatalog rows are per catalog name: both sides must use the same one
ROWS_PER_BATCH = 10
BATCHES = 6


class Batch(dg.Config):
    batch: int = 0


def _orders_batch(batch: int) -> pa.Table:
    start = batch * ROWS_PER_BATCH
    return pa.table(
        {
            "order_id": pa.array(range(start, start + ROWS_PER_BATCH), pa.int64()),
            "customer": pa.array([f"c{i % 7}" for i in range(ROWS_PER_BATCH)], pa.string()),
            "amount": pa.array([round(1.25 * (start + i), 2) for i in range(ROWS_PER_BATCH)]),
        }
    )


@dataclass
class Setup:
    lakehouse: LakehouseResource
    io_manager: PyArrowIcebergIOManager
    instance: dg.DagsterInstance


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    uri = f"sqlite:///{tmp_path}/catalog.db"
    warehouse = f"file://{tmp_path}/warehouse"
    (tmp_path / "warehouse").mkdir()
    lakehouse = LakehouseResource(
        catalog_type="sql", catalog_name=CATALOG, catalog_uri=uri, warehouse=warehouse
    )
    io_manager = PyArrowIcebergIOManager(
        name=CATALOG,
        config=IcebergCatalogConfig(properties={"type": "sql", "uri": uri, "warehouse": warehouse}),
    )
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        yield Setup(lakehouse, io_manager, instance)


def _build(key: dg.AssetKey, table: str, translator: LakehouseTranslator | None) -> dict[str, Any]:
    """The asset written by dagster-iceberg, a downstream reader, our checks and maintenance."""

    @dg.asset(
        key=key,
        metadata={"write_mode": "append"},
        kinds={"iceberg"},
        io_manager_key="iceberg_io_manager",
    )
    def orders(config: Batch) -> pa.Table:
        return _orders_batch(config.batch)

    @dg.asset(ins={"orders": dg.AssetIn(key)}, io_manager_key="mem_io_manager")
    def order_rows(orders: pa.Table) -> list[dict[str, Any]]:
        return sorted(orders.to_pylist(), key=lambda row: row["order_id"])

    checks = table_stats_checks(tables=[table], translator=translator)
    maintenance = lakehouse_maintenance_definitions(tables=[table], translator=translator)
    return {
        "orders": orders,
        "order_rows": order_rows,
        "checks": checks,
        "maintenance": maintenance,
    }


def _resources(setup: Setup) -> dict[str, Any]:
    return {
        "iceberg_io_manager": setup.io_manager,
        "mem_io_manager": dg.InMemoryIOManager(),
        "lakehouse": setup.lakehouse,
    }


def _definitions(setup: Setup, built: dict[str, Any]) -> dg.Definitions:
    return dg.Definitions.merge(
        built["maintenance"],
        dg.Definitions(
            assets=[built["orders"], built["order_rows"]],
            asset_checks=built["checks"],
            resources=_resources(setup),
        ),
    )


def _materialize(setup: Setup, built: dict[str, Any], batches: range) -> list[str]:
    orders = built["orders"]
    run_ids = []
    for batch in batches:
        result = dg.materialize(
            [orders],
            instance=setup.instance,
            resources=_resources(setup),
            run_config=dg.RunConfig(ops={orders.op.name: Batch(batch=batch)}),
        )
        assert result.success
        run_ids.append(result.run_id)
    return run_ids


def _read_through_io_manager(setup: Setup, built: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows as a downstream asset receives them: loaded by dagster-iceberg's IO manager."""
    result = dg.materialize(
        [built["orders"], built["order_rows"]],
        selection=[built["order_rows"].key],
        instance=setup.instance,
        resources=_resources(setup),
    )
    assert result.success
    return result.output_for_node(built["order_rows"].op.name)


def _run_checks(setup: Setup, built: dict[str, Any]) -> list[dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [built["orders"], *built["checks"]],
        selection=dg.AssetSelection.checks_for_assets(built["orders"]),
        instance=setup.instance,
        resources=_resources(setup),
    )
    assert result.success
    return result.get_asset_check_evaluations()


def _maintain(setup: Setup, defs: dg.Definitions) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("lakehouse_maintenance")
    result = job.execute_in_process(
        run_config={
            "ops": {
                "lakehouse_maintenance__select_tables": {"config": {"expire": {"older_than": "0s"}}}
            }
        },
        instance=setup.instance,
    )
    assert result.success
    return result


def _observations(setup: Setup, key: dg.AssetKey, run_id: str) -> dict[str, dict[str, Any]]:
    records = setup.instance.fetch_observations(key, limit=50).records
    return {
        meta["lakehouse/operation"]: meta
        for meta in (
            {k: v.value for k, v in r.asset_observation.metadata.items()}
            for r in records
            if r.run_id == run_id
        )
    }


def _exercise(setup: Setup, key: dg.AssetKey, table: str, translator=None) -> None:
    built = _build(key, table, translator)
    orders = built["orders"]
    assert orders.key == key
    defs = _definitions(setup, built)
    graph = defs.resolve_asset_graph()
    # The check is on the dagster-iceberg asset itself (no stub asset was invented for it).
    assert dg.AssetCheckKey(key, CHECK_NAME) in graph.asset_check_keys
    assert graph.get(key).is_materializable
    assert set(graph.get_all_asset_keys()) == {key, built["order_rows"].key}

    # dagster-iceberg writes the table: one append snapshot (and one small file) per run.
    materializations = _materialize(setup, built, range(BATCHES))
    assert [str(t) for t in setup.lakehouse.list_tables()] == [table]
    before = setup.lakehouse.collect_stats(table)
    assert (before.snapshot_count, before.file_count) == (BATCHES, BATCHES)
    assert before.row_count == BATCHES * ROWS_PER_BATCH
    rows_before = _read_through_io_manager(setup, built)
    assert [r["order_id"] for r in rows_before] == list(range(BATCHES * ROWS_PER_BATCH))

    # Our stats check runs and lands on the same key, against the latest materialization.
    (evaluation,) = _run_checks(setup, built)
    assert evaluation.asset_key == orders.key and evaluation.check_name == CHECK_NAME
    assert evaluation.target_materialization_data.run_id == materializations[-1]
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["file_count"].value == BATCHES
    assert "small-file ratio" in evaluation.metadata["violations"].value

    # Our maintenance job on the same catalog observes the same key.
    result = _maintain(setup, defs)
    observed = _observations(setup, key, result.run_id)
    assert set(observed) == {"optimize", "expire", "vacuum"}
    assert observed["optimize"]["lakehouse/committed"] is True
    assert observed["optimize"]["before/file_count"] == BATCHES
    assert observed["optimize"]["after/file_count"] == 1
    assert observed["expire"]["after/snapshot_count"] == 1
    after = setup.lakehouse.collect_stats(table)
    assert (after.snapshot_count, after.file_count, after.row_count) == (1, 1, before.row_count)

    # dagster-iceberg reads exactly the same rows after maintenance.
    assert _read_through_io_manager(setup, built) == rows_before

    (evaluation,) = _run_checks(setup, built)
    assert evaluation.asset_key == orders.key and evaluation.passed is True
    assert evaluation.metadata["file_count"].value == 1

    # And dagster-iceberg keeps appending to the compacted table.
    _materialize(setup, built, range(BATCHES, BATCHES + 1))
    rows = _read_through_io_manager(setup, built)
    assert [r["order_id"] for r in rows] == list(range((BATCHES + 1) * ROWS_PER_BATCH))


def test_io_manager_key_prefix_is_the_namespace(setup: Setup):
    """AssetKey(["raw", "orders"]) ↔ raw.orders with the default translator."""
    setup.lakehouse.get_lakehouse().catalog().create_namespace("raw")
    _exercise(setup, dg.AssetKey(["raw", "orders"]), "raw.orders")


class IOManagerNamespaceTranslator(LakehouseTranslator):
    """Tables in the namespace a dagster-iceberg IO manager is configured with are assets keyed
    by the table name alone (how that IO manager maps keys); others keep the default."""

    def __init__(self, namespace: str) -> None:
        self.namespace = (namespace,)

    def get_asset_key(self, table: TableIdentifier) -> dg.AssetKey:
        if table.namespace == self.namespace:
            return dg.AssetKey([table.name])
        return super().get_asset_key(table)


def test_io_manager_namespace_needs_a_translator(setup: Setup):
    """With PyArrowIcebergIOManager(namespace="staging"), AssetKey(["orders"]) is staging.orders:
    the default translator would put checks and observations on ["staging", "orders"]."""
    setup.io_manager = PyArrowIcebergIOManager(
        name=CATALOG, config=setup.io_manager.config, namespace="staging"
    )
    setup.lakehouse.get_lakehouse().catalog().create_namespace("staging")
    translator = IOManagerNamespaceTranslator("staging")
    key = dg.AssetKey(["orders"])
    assert LakehouseTranslator().asset_key_for("staging.orders") != key
    assert translator.asset_key_for("staging.orders") == key
    _exercise(setup, key, "staging.orders", translator)


def test_dagster_iceberg_as_default_io_manager(setup: Setup):
    """dagster-iceberg's documented set-up binds it as ``io_manager``; the maintenance jobs in the
    same code location must still run."""
    catalog = setup.lakehouse.get_lakehouse().catalog()
    catalog.create_namespace("raw")
    catalog.create_table("raw.orders", schema=_orders_batch(0).schema).append(_orders_batch(0))
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["raw.orders"]),
        dg.Definitions(resources={"io_manager": setup.io_manager, "lakehouse": setup.lakehouse}),
    )
    result = defs.resolve_job_def("lakehouse_expire").execute_in_process(
        instance=setup.instance, raise_on_error=False
    )
    failures = [
        str(event.step_failure_data.error.message).strip()
        for event in result.all_events
        if event.is_step_failure
    ]
    assert result.success, failures
