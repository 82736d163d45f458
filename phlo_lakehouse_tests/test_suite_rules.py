"""The suite's own rules: a missing optional tool or package skips only outside CI (``CI=true``
fails it), and no test module skips itself at import with ``pytest.importorskip``."""

import ast
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
ROOT = TESTS.parent


def _importorskip_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "importorskip"
    ]


def test_no_test_module_skips_itself_with_importorskip():
    found = {
        str(p.relative_to(ROOT)): lines
        for p in sorted(TESTS.rglob("*.py"))
        if (lines := _importorskip_calls(p))
    }
    assert found == {}, "use phlo_lakehouse_tests.conftest.missing_service (fails under CI=true)"


def test_the_scanner_finds_importorskip(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import pytest\n\npytest.importorskip('phlo')\n")
    assert _importorskip_calls(sample) == [3]


def _run_plugin_tests_without_phlo(tmp_path: Path, ci: str) -> subprocess.CompletedProcess:
    """pytest on the phlo plugin tests with a ``phlo`` package on PYTHONPATH that fails to
    import, as an environment without phlo installed would."""
    hidden = tmp_path / "hide_phlo"
    (hidden / "phlo").mkdir(parents=True)
    (hidden / "phlo" / "__init__.py").write_text("raise ImportError('phlo hidden by the test')\n")
    env = {
        **os.environ,
        "CI": ci,
        "PYTHONPATH": os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
            str(TESTS / "cli" / "test_phlo_plugin.py"),
        ],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip


def test_phlo_plugin_tests_fail_under_ci_when_phlo_is_missing(tmp_path):
    result = _run_plugin_tests_without_phlo(tmp_path, "true")
    assert result.returncode != 0, result.stdout
    assert "CI: required service missing: phlo is not installed" in result.stdout


def test_phlo_plugin_tests_skip_outside_ci_when_phlo_is_missing(tmp_path):
    result = _run_plugin_tests_without_phlo(tmp_path, "")
    # the module skips whole at import: nothing collected (pytest's exit 5), nothing failed
    assert result.returncode == 5, result.stdout + result.stderr
    assert "phlo is not installed" in result.stdout and "1 skipped" in result.stdout
    assert " passed" not in result.stdout and " failed" not in result.stdout
