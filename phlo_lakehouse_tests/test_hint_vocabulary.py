"""One error, three callers: a hint names the argument the way each caller sets it — Python
keyword arguments, CLI flags, Dagster run-config keys — and never another surface's spelling."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from phlo_lakehouse.dagster import LakehouseResource, lakehouse_maintenance_definitions
from phlo_lakehouse.demo import seed_demo_table
from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.operations.vacuum import VacuumOperation

CLI = str(Path(sys.executable).with_name("phlo-lakehouse"))


def test_python_callers_read_keyword_arguments():
    with pytest.raises(InvalidInput) as info:
        VacuumOperation(older_than="1h")
    text = str(info.value)
    assert text.startswith("older_than='1h' is under 24 hours")
    assert "use older_than='24h' or more" in text and "pass force=True only" in text
    assert "--" not in text and "vacuum." not in text


def test_cli_users_read_flags(tmp_path):
    home = str(tmp_path / "lakehouse")
    seeded = subprocess.run(
        [CLI, "--home", home, "demo", "seed", "--yes"], capture_output=True, text=True, timeout=300
    )
    assert seeded.returncode == 0, seeded.stderr
    run = subprocess.run(
        [CLI, "--home", home, "vacuum", "demo.events", "--older-than", "1h", "--yes"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith("error: --older-than 1h is under 24 hours"), lines
    assert lines[1] == (
        "hint: use --older-than 24h or more (default 3d); pass --force only when no writer "
        "is active"
    )
    assert "force=True" not in run.stderr and "Traceback" not in run.stderr
    strategy = subprocess.run(
        [CLI, "--home", home, "optimize", "demo.events", "--strategy", "binpack", "--sort-by", "a"]
        + ["--yes"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert strategy.returncode == 2
    assert strategy.stderr.splitlines()[:2] == [
        "error: --sort-by needs --strategy sort",
        "hint: set --strategy sort",
    ]


def test_dagster_runs_read_run_config_keys(tmp_path):
    resource = LakehouseResource(home=str(tmp_path / "lakehouse"))
    seed_demo_table(resource.get_lakehouse(), "demo.events", commits=2, rows_per_commit=10)
    defs = dg.Definitions.merge(
        lakehouse_maintenance_definitions(tables=["demo.*"]),
        dg.Definitions(resources={"lakehouse": resource}),
    )
    job = defs.resolve_job_def("lakehouse_vacuum")
    config = {"vacuum": {"older_than": "1h"}}
    with dg.instance_for_test() as instance:
        run = job.execute_in_process(
            run_config={"ops": {f"{job.name}__select_tables": {"config": config}}},
            instance=instance,
            raise_on_error=False,
        )
    assert not run.success
    message = run.get_step_failure_events()[0].event_specific_data.error.cause.message
    assert 'vacuum.older_than: "1h" is under 24 hours' in message
    assert 'use vacuum.older_than: "24h" or more' in message
    assert "pass vacuum.force: true only" in message
    assert "force=True" not in message and "--force" not in message
