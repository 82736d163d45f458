"""The console script's lazy imports: deferred modules stay unloaded on paths that never use
them, load on first use (also from many threads at once) and behave as the real modules."""

import json
import os
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


# -- the console script, run as users run it -----------------------------------------------------

#: Runs the installed console script (argv[2:]) in this fresh process, as its own file, and
#: writes the names of the modules really loaded at exit (lazy placeholders left out) to argv[1].
_CONSOLE_SCRIPT = """
import atexit, json, runpy, sys
out, script, args = sys.argv[1], sys.argv[2], sys.argv[3:]

def dump():
    from phlo_lakehouse.cli import lazy_imports
    names = sorted(
        n for n, m in sys.modules.items() if not isinstance(m, lazy_imports._Placeholder)
    )
    with open(out, "w") as f:
        json.dump(names, f)

atexit.register(dump)
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
"""

#: Modules only other commands need: none is loaded by ``vacuum`` or ``--help``.
_OTHER_COMMANDS_ONLY = (
    "phlo_lakehouse.operations.optimize",
    "phlo_lakehouse.operations.rewrite",
    "phlo_lakehouse.operations.stitch",
    "phlo_lakehouse.operations.expire",
    "phlo_lakehouse.operations.retention",
    "phlo_lakehouse.migration",
    "phlo_lakehouse.gc",
    "phlo_lakehouse.access",
    "phlo_lakehouse.dagster",
    "dagster",
    *(
        f"phlo_lakehouse.cli.{name}"
        for name in ("access", "demo", "gc", "migrate", "refs", "schema", "snapshots", "tables")
    ),
    "phlo_lakehouse.cli.upkeep",
    # upstream modules the console script defers (lazy_imports)
    "pyarrow.compute",
    "pyarrow._dataset",
    "pandas",
    "pyparsing",
    "strictyaml",
    "dateutil",
)


def _console_script(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    from phlo_lakehouse_tests.cli.conftest import script

    out = tmp_path / "modules.json"
    run = subprocess.run(
        [sys.executable, "-c", _CONSOLE_SCRIPT, str(out), script("phlo-lakehouse"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return run, set(json.loads(out.read_text()))


def test_vacuum_through_the_console_script_loads_only_what_vacuum_uses(lakehouse, tmp_path):
    from urllib.parse import urlparse

    from phlo_lakehouse.demo import plant_orphans

    table = seed_demo_table(lakehouse, "demo.events", commits=3, rows_per_commit=20)
    orphans = [urlparse(path).path for path in plant_orphans(table, 3)]
    home = lakehouse.settings.uri.removeprefix("sqlite:///").removesuffix("/catalog.db")
    run, loaded = _console_script(tmp_path, "--home", home, "vacuum", "demo.events", "--yes")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "vacuum demo.events@main: done, no new snapshot"
    assert "  orphan_files:      3" in lines
    assert not any(os.path.exists(path) for path in orphans)
    # the dump sees what the command used ...
    assert {"phlo_lakehouse.operations.vacuum", "phlo_lakehouse.cli.maintenance"} <= loaded
    assert {"pyiceberg.catalog.sql", "pyiceberg.io.pyarrow", "pyarrow._compute"} <= loaded
    # ... and nothing only other commands need
    assert sorted(loaded & set(_OTHER_COMMANDS_ONLY)) == []
    assert not any(name.startswith(("dagster", "phlo.")) for name in loaded)


def test_the_group_help_imports_no_command_and_no_catalog(tmp_path):
    run, loaded = _console_script(tmp_path, "--help")
    assert run.returncode == 0, run.stderr
    assert "  vacuum      Delete orphan files no metadata references." in run.stdout
    assert not any(name.startswith(("phlo_lakehouse.operations", "pyiceberg")) for name in loaded)
    assert "phlo_lakehouse.cli.maintenance" not in loaded
    assert sorted(loaded & set(_OTHER_COMMANDS_ONLY)) == []


def test_the_placeholder_hands_out_pyarrow_compute_expression_itself_without_loading_it():
    result = _run(
        """
        import importlib, json, sys
        from phlo_lakehouse.cli.lazy_imports import FORWARDED, install
        install()
        import pyarrow.compute as pc
        import pyiceberg.io.pyarrow  # reads pc.Expression at import
        forwarded = pc.Expression
        deferred = "cast" not in vars(sys.modules["pyarrow.compute"])
        real = importlib.import_module("pyarrow.compute")  # loads it now
        print(json.dumps({
            "deferred": deferred,
            "expression": forwarded is real.Expression,
            "same": all(  # what pyarrow.compute re-exports from the modules named
                getattr(importlib.import_module(source), name) is getattr(real, name)
                for names in FORWARDED.values() for name, source in names.items()
            ),
            "filled": pc.cast is real.cast,
        }))
        """
    )
    assert result == {"deferred": True, "expression": True, "same": True, "filled": True}


def test_a_pyiceberg_yaml_is_still_read_with_strictyaml_deferred(tmp_path):
    (tmp_path / ".pyiceberg.yaml").write_text("catalog:\n  Probe:\n    uri: sqlite:///x.db\n")
    result = _run(
        """
        import json, os, sys
        from phlo_lakehouse.cli.lazy_imports import install
        install()
        from pyiceberg.utils.config import Config
        before = "strictyaml.parser" in sys.modules
        os.environ["PYICEBERG_HOME"] = sys.argv[1]
        config = Config().config["catalog"]
        print(json.dumps({"before": before, "after": "strictyaml.parser" in sys.modules,
                          "config": config}))
        """,
        str(tmp_path),
    )
    assert result == {
        "before": False,
        "after": True,
        "config": {"probe": {"uri": "sqlite:///x.db"}},
    }
