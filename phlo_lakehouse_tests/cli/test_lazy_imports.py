"""The console script's lazy imports: deferred modules stay unloaded on paths that never use
them, load on first use (also from many threads at once) and behave as the real modules."""

import json
import subprocess
import sys
import textwrap

from phlo_lakehouse.demo import seed_demo_table


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_vacuum_and_compaction_of_write_schema_files_never_load_the_deferred_modules(lakehouse):
    seed_demo_table(lakehouse, "raw.events", commits=6, rows_per_commit=50)
    home = lakehouse.settings.uri.removeprefix("sqlite:///").removesuffix("/catalog.db")
    result = _run(
        """
        import json, sys
        from phlo_lakehouse.cli.lazy_imports import install
        install()
        from phlo_lakehouse import CatalogSettings, IcebergLakehouse
        from phlo_lakehouse.operations import OperationExecutor
        from phlo_lakehouse.operations.optimize import OptimizeOperation
        from phlo_lakehouse.operations.vacuum import VacuumOperation
        lh = IcebergLakehouse(CatalogSettings.embedded(sys.argv[1]))
        ex = OperationExecutor(lh)
        heavy = ("pyarrow._dataset", "pandas", "pyparsing")
        ex.run(VacuumOperation(older_than="3d"), "raw.events")
        after_vacuum = [m for m in heavy if m in sys.modules]
        done = ex.run(OptimizeOperation(stitch="never"), "raw.events")
        # (pyarrow itself imports pandas to convert timestamp statistics of the new files)
        after_optimize = [m for m in heavy[::2] if m in sys.modules]
        print(json.dumps(
            {"vacuum": after_vacuum, "optimize": after_optimize, "committed": done.committed}
        ))
        """,
        home,
    )
    assert result == {"vacuum": [], "optimize": [], "committed": True}
    assert len(lakehouse.get_table("raw.events").to_arrow()) == 300


def test_deferred_modules_load_on_first_use_from_many_threads_and_read_the_same_rows(lakehouse):
    seed_demo_table(lakehouse, "raw.events", commits=3, rows_per_commit=50)
    home = lakehouse.settings.uri.removeprefix("sqlite:///").removesuffix("/catalog.db")
    expected = sorted(lakehouse.get_table("raw.events").to_arrow()["event_id"].to_pylist())
    result = _run(
        """
        import json, sys
        from concurrent.futures import ThreadPoolExecutor
        from phlo_lakehouse.cli.lazy_imports import install
        install()
        import pyarrow.dataset as ds
        import pyiceberg.expressions.parser as parser
        assert "pyarrow._dataset" not in sys.modules and "pyparsing" not in sys.modules
        from phlo_lakehouse import CatalogSettings, IcebergLakehouse
        table = IcebergLakehouse(CatalogSettings.embedded(sys.argv[1])).get_table("raw.events")

        def scan(_):
            # PyIceberg's scan uses pyarrow.dataset; a string filter uses the parser
            rows = table.table.scan(row_filter="event_id >= 0").to_arrow()
            return sorted(rows["event_id"].to_pylist())

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(scan, range(8)))
        same = all(r == results[0] for r in results)
        real = sys.modules["pyarrow.dataset"]
        print(json.dumps({
            "rows": results[0], "same": same,
            "dataset_filled": ds.dataset is real.dataset and ds.Scanner is real.Scanner,
            "parser_filled": parser.parse is sys.modules["pyiceberg.expressions.parser"].parse,
        }))
        """,
        home,
    )
    assert result["rows"] == expected
    assert result["same"] and result["dataset_filled"] and result["parser_filled"]


def test_the_console_script_installs_the_lazy_imports_and_in_process_use_does_not():
    result = _run(
        """
        import json, sys
        # in-process use (tests, Phlo's plugin): nothing deferred
        from phlo_lakehouse.cli.main import main as console_script
        from phlo_lakehouse.cli import lazy_imports
        before = lazy_imports._FINDER in sys.meta_path
        sys.argv = ["phlo-lakehouse", "--help"]
        try:
            console_script()
        except SystemExit:
            pass
        print(json.dumps({"before": before, "after": lazy_imports._FINDER in sys.meta_path}))
        """
    )
    assert result == {"before": False, "after": True}
