"""The package's shape: the import-linter layer contracts (pyproject.toml) hold, they catch an
upward import, and no module is longer than 400 lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import phlo_lakehouse

PACKAGE = Path(phlo_lakehouse.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 400


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layer_contracts_are_kept():
    run = _lint_imports(PYPROJECT.parent, PYPROJECT.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout


def test_an_upward_import_from_a_low_layer_breaks_the_contracts(tmp_path):
    copy = tmp_path / "phlo_lakehouse"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    # A test-only fixture module in the base layer that reaches up to the Dagster adapter.
    (copy / "units_fixture_upward.py").write_text("import phlo_lakehouse.dagster\n")
    (copy / "units.py").write_text(
        (copy / "units.py").read_text() + "\nfrom phlo_lakehouse import units_fixture_upward\n"
    )
    run = _lint_imports(tmp_path, tmp_path)
    assert run.returncode != 0, run.stdout
    assert "1 broken" in run.stdout
    assert "phlo_lakehouse.units_fixture_upward -> phlo_lakehouse.dagster" in run.stdout


def test_no_module_is_longer_than_400_lines():
    lengths = {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert len(lengths) > 100  # the whole package was read
    too_long = {path: n for path, n in lengths.items() if n > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_ruff_lint_and_format_are_clean():
    # The rules in [tool.ruff.lint] (BLE, SLF and RUF100 among them) and one formatting, in CI.
    ruff = Path(sys.executable).parent / "ruff"
    paths = ["phlo_lakehouse", "phlo_lakehouse_tests", "benchmarks", "scripts"]
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        run = subprocess.run(
            [str(ruff), *command, *paths],
            cwd=PYPROJECT.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_mypy_is_clean_on_the_package():
    mypy = Path(sys.executable).parent / "mypy"
    run = subprocess.run(
        [str(mypy), "--config-file", "pyproject.toml"],
        cwd=PYPROJECT.parent,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Success: no issues found" in run.stdout


def test_the_public_surface_names_every_manager_and_error_class():
    import inspect

    from phlo_lakehouse import errors

    error_classes = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, errors.LakehouseError)
        and value.__module__ == errors.__name__
    }
    assert len(error_classes) > 20
    assert error_classes == set(errors.__all__)
    managers = {"SnapshotManager", "SchemaManager", "WriteAuditPublish", "NessieReferences"}
    assert error_classes | managers <= set(phlo_lakehouse.__all__)
    for name in phlo_lakehouse.__all__:  # each resolves (the managers on first use)
        assert getattr(phlo_lakehouse, name).__name__ == name or not inspect.isclass(
            getattr(phlo_lakehouse, name)
        )


def test_no_module_imports_another_modules_private_names():
    # A name with a leading underscore is its module's own; what another module needs is public.
    # The boundary package (_upstream) is the one exception: its modules are private as a whole.
    import ast

    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if not node.module.startswith("phlo_lakehouse") or "_upstream" in node.module:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    offenders.append(f"{path.relative_to(PACKAGE)}: {node.module}.{alias.name}")
    assert offenders == []
