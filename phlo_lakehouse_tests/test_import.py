"""Importing the package and loading the definitions do no I/O and keep heavy modules out."""

import json
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import json, sys
    events = []
    def hook(event, args):
        if event in ("socket.connect", "sqlite3.connect", "open") :
            if event == "open" and not str(args[0]).endswith((".db", "catalog.db")):
                return
            events.append([event, repr(args)[:200]])
    sys.addaudithook(hook)
    import phlo_lakehouse
    heavy_after_package = sorted(
        m
        for m in ("pyspark", "pynessie", "pyiceberg", "sqlalchemy", "prometheus_client", "dagster")
        if m in sys.modules
    )
    from phlo_lakehouse.definitions import defs
    defs.get_repository_def().get_all_jobs()
    EXTRA
    print(json.dumps({"events": events, "heavy": heavy_after_package}))
    """
)


def _run_probe(env_extra: dict[str, str], cwd, extra: str = "") -> dict:
    import os

    env = {**os.environ, **env_extra}
    code = _PROBE.replace("EXTRA", extra)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_and_definitions_open_no_catalog_connection(tmp_path):
    result = _run_probe({"PHLO_LAKEHOUSE_HOME": str(tmp_path / "lh")}, tmp_path)
    assert result["events"] == []
    assert not (tmp_path / "lh").exists()


def test_import_and_definitions_do_not_contact_nessie(tmp_path):
    result = _run_probe({"NESSIE_HOST": "127.0.0.1", "NESSIE_PORT": "9"}, tmp_path)
    assert result["events"] == []


def test_package_import_keeps_heavy_dependencies_out():
    result = _run_probe({}, None)
    assert result["heavy"] == []


def test_probe_detects_a_real_catalog_connection(tmp_path):
    """Control: the same probe sees the connection when the catalog is actually used."""
    touch = "phlo_lakehouse.IcebergLakehouse.from_env().list_tables()"
    result = _run_probe({"PHLO_LAKEHOUSE_HOME": str(tmp_path / "lh")}, tmp_path, touch)
    assert any(event == "sqlite3.connect" for event, _ in result["events"])


def test_the_operations_package_loads_each_name_on_first_use():
    code = textwrap.dedent(
        """
        import json, sys
        import phlo_lakehouse.operations as operations
        def loaded():
            return sorted(m for m in sys.modules if m.startswith("phlo_lakehouse.operations."))
        after_import = loaded()
        vacuum = operations.operation_for("vacuum", older_than="7d")
        after_kind = loaded()
        from phlo_lakehouse.operations import OptimizeOperation, OPERATION_KINDS
        resolved = {name: getattr(operations, name) is not None for name in operations.__all__}
        print(json.dumps({
            "after_import": after_import,
            "after_kind": after_kind,
            "vacuum": type(vacuum).__module__,
            "kinds": {k: v.__name__ for k, v in OPERATION_KINDS.items()},
            "optimize": OptimizeOperation.__module__,
            "all": operations.__all__,
            "resolved": all(resolved.values()),
            "dir": sorted(set(operations.__all__) - set(dir(operations))),
        }))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after_import"] == []
    assert "phlo_lakehouse.operations.optimize" not in result["after_kind"]
    assert result["vacuum"] == "phlo_lakehouse.operations.vacuum"
    assert result["optimize"] == "phlo_lakehouse.operations.optimize"
    assert result["kinds"] == {
        "optimize": "OptimizeOperation",
        "expire": "ExpireSnapshotsOperation",
        "vacuum": "VacuumOperation",
        "rewrite_manifests": "RewriteManifestsOperation",
        "remove_dangling_deletes": "RemoveDanglingDeletesOperation",
        "compute_table_stats": "ComputeTableStatsOperation",
        "data_retention": "DataRetentionOperation",
        "rewrite_position_deletes": "RewritePositionDeletesOperation",
    }
    assert len(result["all"]) == 25 and result["resolved"] and result["dir"] == []
