"""`make run` (scripts/run_main_job.py) on a temporary home: its before/after table shows the
compaction working — the small-file ratio drops — and agrees with the table it leaves."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from phlo_lakehouse import CatalogSettings, IcebergLakehouse

ROOT = Path(__file__).parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_make_run_prints_a_falling_small_file_ratio(tmp_path):
    (tmp_path / "dagster").mkdir()
    env = {
        **os.environ,
        "PHLO_LAKEHOUSE_HOME": str(tmp_path / "lake"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    for key in [k for k in env if k.startswith("PHLO_LAKEHOUSE_") and k != "PHLO_LAKEHOUSE_HOME"]:
        env.pop(key)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_main_job.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # "  small-file ratio        1.00        0.29": name, before, after
    rows = {
        cells[0]: cells
        for line in result.stdout.splitlines()
        if line.startswith("  ") and len(cells := re.split(r"\s{2,}", line.strip())) == 3
    }
    before, after = (float(v) for v in rows["small-file ratio"][-2:])
    assert before == 1.0 and after < 0.5, result.stdout
    assert "rows unchanged: yes" in result.stdout

    # the oracle: the table's own files against its target, read through PyIceberg
    lakehouse = IcebergLakehouse(CatalogSettings.embedded(tmp_path / "lake"))
    table = lakehouse.get_table("demo.events").table
    target = int(table.properties["write.target-file-size-bytes"])
    sizes = [task.file.file_size_in_bytes for task in table.scan().plan_files()]
    assert int(rows["data files"][-1]) == len(sizes)
    assert after == pytest.approx(sum(s < 0.75 * target for s in sizes) / len(sizes), abs=0.005)
