"""The Component through the real ``dg`` executable (dagster-dg-cli) in a dg project layout.

A throwaway project in a temp dir (pyproject.toml with ``[tool.dg]``, ``src/<module>/defs``)
holds one ``defs.yaml`` per case. ``dg scaffold defs`` writes ours; ``dg check yaml`` must accept
it and reject each bad attribute with a message at that attribute's path; ``dg check defs``
loads the definitions for real (Python validation included) without a warning.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from phlo_lakehouse_tests.conftest import missing_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

COMPONENT = "phlo_lakehouse.dagster.LakehouseMaintenanceComponent"
MODULE = "lake_project"
DG = Path(sys.executable).with_name("dg")

#: name -> (attributes, the attribute path dg must name, a phrase of its message)
BAD = {
    "size": ({"optimize": {"target_file_size": "12XB"}}, "optimize.target_file_size", "'12XB'"),
    "cron": (
        {"schedules": [{"job": "lakehouse_expire", "cron": "0 3 * *"}]},
        "schedules.0.cron",
        "'0 3 * *'",
    ),
    "timezone": (
        {"schedules": [{"job": "lakehouse_expire", "cron": "0 3 * * *", "timezone": "Mars/Base"}]},
        "schedules.0.timezone",
        "'Mars/Base'",
    ),
    "sensor": ({"sensor": "maybe"}, "sensor", "'maybe' is not of type 'boolean'"),
    "selector": ({"tables": ["raw..events"]}, "tables.0", "'raw..events'"),
    "selector_text": ({"tables": "raw events"}, "tables", "'raw events'"),
    "duration": ({"expire": {"older_than": "5 days"}}, "expire.older_than", "'5 days'"),
    "threshold": (
        {"thresholds": {"max_small_file_ratio": 1.5}},
        "thresholds.max_small_file_ratio",
        "1.5 is greater than the maximum of 1",
    ),
    "negative_threshold": (
        {"triggers": {"min_files": 0}},
        "triggers.min_files",
        "0 is less than the minimum of 1",
    ),
    "strategy": (
        {"optimize": {"strategy": "fastest"}},
        "optimize.strategy",
        "'fastest' is not one of ['binpack', 'sort', 'zorder']",
    ),
    "unknown_key": ({"optimise": {}}, "optimise", "'optimise' was unexpected"),
    "unknown_setting": (
        {"vacuum": {"olderthan": "3d"}},
        "vacuum.olderthan",
        "'olderthan' was unexpected",
    ),
    "unknown_catalog_field": ({"catalog": {"hme": "x"}}, "catalog.hme", "'hme' was unexpected"),
    "job": (
        {"schedules": [{"job": "lakehouse_compact", "cron": "0 3 * * *"}]},
        "schedules.0.job",
        "'lakehouse_compact' is not one of",
    ),
}


def _project(root: Path) -> Path:
    (root / "src" / MODULE / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "lake-project"
            version = "0.1.0"
            requires-python = ">=3.11"

            [tool.dg]
            directory_type = "project"

            [tool.dg.project]
            root_module = "{MODULE}"
            """
        )
    )
    (root / "src" / MODULE / "__init__.py").write_text("")
    (root / "src" / MODULE / "defs" / "__init__.py").write_text("")
    (root / "src" / MODULE / "definitions.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            import dagster as dg


            @dg.definitions
            def defs():
                return dg.load_from_defs_folder(project_root=Path(__file__).parent.parent.parent)
            """
        )
    )
    return root


def _defs_yaml(project: Path, name: str, attributes: dict) -> Path:
    folder = project / "src" / MODULE / "defs" / name
    folder.mkdir(parents=True)
    path = folder / "defs.yaml"
    path.write_text(yaml.safe_dump({"type": COMPONENT, "attributes": attributes}))
    return path


def _dg(project: Path, *args: str) -> subprocess.CompletedProcess:
    if not DG.exists():
        missing_service(f"{DG} not found: make install (dagster-dg-cli is a dev extra)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHLO_LAKEHOUSE_", "NESSIE_"))}
    env["PATH"] = f"{DG.parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(project / "src")
    env["NO_COLOR"] = "1"
    env["PHLO_LAKEHOUSE_HOME"] = str(project / ".lakehouse")
    return subprocess.run(
        [str(DG), *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = _project(tmp_path_factory.mktemp("dg-good"))
    done = _dg(project, "scaffold", "defs", COMPONENT, "upkeep")
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def test_dg_scaffold_writes_a_defs_yaml_that_checks_and_loads(scaffolded: Path):
    written = yaml.safe_load(
        (scaffolded / "src" / MODULE / "defs" / "upkeep" / "defs.yaml").read_text()
    )
    assert written["type"] == COMPONENT
    assert {"tables", "optimize", "expire", "vacuum", "schedules"} <= set(written["attributes"])
    checked = _dg(scaffolded, "check", "yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All component YAML validated successfully" in checked.stdout
    loaded = _dg(scaffolded, "check", "defs")
    output = loaded.stdout + loaded.stderr
    assert loaded.returncode == 0, output
    assert "All definitions loaded successfully" in output
    assert "Warning" not in output and "BetaWarning" not in output, output
    assert not (scaffolded / ".lakehouse").exists()  # loading opened no catalog


def test_dg_check_yaml_rejects_each_bad_attribute(tmp_path: Path):
    project = _project(tmp_path / "dg-bad")
    paths = {name: _defs_yaml(project, name, attrs) for name, (attrs, _, _) in BAD.items()}
    # dg checks one document per component type per call (it keys them by type): one call each.
    with ThreadPoolExecutor(max_workers=4) as pool:
        checked = dict(
            zip(
                paths,
                pool.map(lambda p: _dg(project, "check", "yaml", str(p.parent)), paths.values()),
                strict=True,
            )
        )
    for name, (_, path, phrase) in BAD.items():
        done = checked[name]
        assert done.returncode == 1, (name, done.stdout + done.stderr)
        reports = [line for line in done.stdout.splitlines() if line.startswith(str(paths[name]))]
        assert len(reports) == 1, (name, done.stdout)  # one clear message per bad attribute
        assert f"attributes.{path} " in reports[0], reports[0]
        assert phrase in reports[0], reports[0]


def test_dg_check_defs_applies_the_python_validation_too(tmp_path: Path):
    """A value the schema allows but the operation refuses (vacuum under 24h without force)."""
    project = _project(tmp_path / "dg-load")
    _defs_yaml(project, "upkeep", {"vacuum": {"older_than": "1h"}})
    assert _dg(project, "check", "yaml").returncode == 0
    loaded = _dg(project, "check", "defs")
    assert loaded.returncode != 0
    assert "24 hours" in loaded.stdout + loaded.stderr


def test_templates_are_still_accepted_where_a_typed_value_goes(tmp_path: Path):
    project = _project(tmp_path / "dg-template")
    _defs_yaml(project, "upkeep", {"sensor": "{{ env.LAKEHOUSE_SENSOR }}", "tables": "raw.*"})
    checked = _dg(project, "check", "yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dg_finds_the_component_in_its_registry(scaffolded: Path):
    listed = _dg(scaffolded, "list", "components")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert COMPONENT in listed.stdout
    shutil.rmtree(scaffolded / ".lakehouse", ignore_errors=True)
