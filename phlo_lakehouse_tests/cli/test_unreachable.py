"""No traceback without ``--debug`` anywhere: every catalog type and the commands that open their
own connections (``migrate hive``, ``gc``, ``refs``), pointed at a closed port, print exactly the
two ``error:``/``hint:`` lines (thrift logs its own connection failure unless silenced) and exit 1;
with ``--debug`` the traceback comes back. Run through the installed executable."""

from __future__ import annotations

import os
import subprocess

import pytest

from phlo_lakehouse_tests.cli.conftest import script

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens here

NESSIE = ["--catalog-type", "nessie", "--catalog-uri", f"http://{CLOSED}"]
CASES = {
    "hive catalog": (["--catalog-uri", f"thrift://{CLOSED}", "tables", "list"], "hive catalog"),
    "rest catalog": (
        ["--catalog-type", "rest", "--catalog-uri", f"http://{CLOSED}", "tables", "list"],
        "rest catalog",
    ),
    "nessie catalog": (
        NESSIE + ["tables", "list"],
        "Nessie",
    ),
    "migrate hive": (
        ["--create", "migrate", "hive", "db.*", "--metastore", f"thrift://{CLOSED}", "--dry-run"],
        "Hive metastore",
    ),
    "refs": (["--catalog-type", "nessie", "--catalog-uri", f"http://{CLOSED}", "refs", "list"], ""),
    "gc": (
        ["--catalog-type", "nessie", "--catalog-uri", f"http://{CLOSED}", "gc", "--dry-run"],
        "",
    ),
}


def _run(args: list[str], cwd) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHLO_LAKEHOUSE_", "NESSIE_"))}
    env["PHLO_LAKEHOUSE_WAREHOUSE"] = "s3://warehouse/wh"
    return subprocess.run(
        [script("phlo-lakehouse"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_unreachable_service_is_two_lines_without_a_traceback(case, tmp_path):
    args, names = CASES[case]
    process = _run(args, tmp_path)
    assert process.returncode == 1, process.stderr
    lines = process.stderr.splitlines()
    assert len(lines) == 2, process.stderr
    error, hint = lines
    assert error.startswith("error: cannot reach "), error
    assert names in error
    assert hint.startswith("hint: "), hint
    assert "Traceback" not in process.stderr + process.stdout


def test_debug_brings_the_traceback_back(tmp_path):
    args, _ = CASES["migrate hive"]
    process = _run([*args, "--debug"], tmp_path)
    assert process.returncode == 1
    assert "Traceback (most recent call last):" in process.stderr
    assert "error: cannot reach the Hive metastore" in process.stderr
