"""Installed beside phlo-iceberg, phlo-nessie, phlo-trino and phlo-dagster, every capability
resolves as documented in docs/phlo.md and none of our registrations replaces theirs.

Discovery runs in a fresh process (Phlo's registry is process-global) through Phlo's own
``discover_capabilities()`` over the real entry points; the oracle for "who registered what" is
each installed plugin's own ``get_<family>s()`` output, read separately.
"""

import json
import textwrap

import pytest

from phlo_lakehouse_tests.phlo_adapter.conftest import environment, require_phlo, run_python

require_phlo()

NEIGHBOURS = ("phlo_iceberg", "phlo_nessie", "phlo_trino", "phlo_dagster")

_PROBE = textwrap.dedent(
    """
    import json, sys
    from importlib.metadata import entry_points
    from phlo.capabilities.discovery import discover_capabilities
    from phlo.capabilities.registry import (
        CAPABILITY_FAMILIES, get_capability_registry, iter_provider_capabilities)
    from phlo.capabilities.resolver import resolve_capability

    def owner(spec):
        value = getattr(spec, "provider", getattr(spec, "resource", None))
        return type(value).__module__.split(".")[0]

    discover_capabilities()
    registry = get_capability_registry()
    families = {
        f: sorted([s.name, owner(s)] for s in registry.list(f))
        for f in CAPABILITY_FAMILIES if f not in ("asset", "check")
    }
    declared = {}
    for ep in entry_points(group="phlo.plugins.resources"):
        plugin = ep.load()()
        for family, specs in iter_provider_capabilities(plugin):
            for spec in specs:
                declared.setdefault(family, []).append([spec.name, ep.value.split(".")[0]])
    resolved = {}
    for family, name in json.loads(sys.argv[1]):
        found = resolve_capability(family, name)
        resolved[f"{family}:{name}"] = None if found is None else [found.name, owner(found)]
    print(json.dumps({"families": families, "declared": declared, "resolved": resolved}))
    """
)


def _discover(tmp_path, requests, **env):
    return run_python(
        _PROBE,
        json.dumps(requests),
        cwd=tmp_path,
        env=environment(drop=("PLUGINS_", "PHLO_DEFAULT_CAPABILITIES"), **env),
    )


@pytest.fixture(scope="module")
def installed():
    from importlib.util import find_spec

    missing = [name for name in NEIGHBOURS if find_spec(name) is None]
    assert not missing, f"the dev extra installs {missing}: run make install"


def test_no_name_is_registered_by_two_providers(installed, tmp_path):
    found = _discover(tmp_path, [])
    # A second spec with the same name in a family replaces the first: so no name may be
    # declared twice, by two plugins, or by a plugin and one of Phlo's built-in defaults.
    for family, specs in found["declared"].items():
        names = [name for name, _ in specs]
        assert len(names) == len(set(names)), f"{family}: {sorted(specs)}"
        registered = [name for name, _ in found["families"][family]]
        assert set(names) <= set(registered), family
    builtin = {"authorization_policy_backend", "maintenance_read_model", "observability_backend"}
    for family in builtin & set(found["declared"]):
        assert "default" not in [name for name, _ in found["declared"][family]], family
    ours = {
        family: sorted(name for name, plugin in specs if plugin == "phlo_lakehouse")
        for family, specs in found["declared"].items()
    }
    assert {f: n for f, n in ours.items() if n} == {
        "maintenance_executor": ["compact", "snapshot_expiry"],
        "schema_migrator": ["lakehouse"],
    }
    theirs = {tuple(s) for s in found["families"]["maintenance_executor"]}
    assert ("trino", "phlo_trino") in theirs
    assert found["families"]["table_store"] == [["iceberg", "phlo_iceberg"]]
    assert found["families"]["catalog"] == [["nessie", "phlo_nessie"]]
    # We add no read model and no authorization backend: Phlo's defaults stay the only ones.
    assert found["families"]["maintenance_read_model"] == [["default", "phlo"]]
    assert found["families"]["authorization_policy_backend"] == [["default", "phlo"]]


def test_names_resolve_to_their_owners(installed, tmp_path):
    requests = [
        ["maintenance_executor", "compact"],
        ["maintenance_executor", "snapshot_expiry"],
        ["maintenance_executor", "trino"],
        ["schema_migrator", "lakehouse"],
        ["schema_migrator", "iceberg"],
        ["table_store", None],
        ["catalog", None],
        ["maintenance_read_model", None],
        ["authorization_policy_backend", None],
        # Ambiguous without a default: Phlo returns None so callers can ask for one.
        ["maintenance_executor", None],
        ["schema_migrator", None],
    ]
    resolved = _discover(tmp_path, requests)["resolved"]
    assert resolved == {
        "maintenance_executor:compact": ["compact", "phlo_lakehouse"],
        "maintenance_executor:snapshot_expiry": ["snapshot_expiry", "phlo_lakehouse"],
        "maintenance_executor:trino": ["trino", "phlo_trino"],
        "schema_migrator:lakehouse": ["lakehouse", "phlo_lakehouse"],
        "schema_migrator:iceberg": ["iceberg", "phlo_iceberg"],
        "table_store:None": ["iceberg", "phlo_iceberg"],
        "catalog:None": ["nessie", "phlo_nessie"],
        "maintenance_read_model:None": ["default", "phlo"],
        "authorization_policy_backend:None": ["default", "phlo"],
        "maintenance_executor:None": None,
        "schema_migrator:None": None,
    }


def test_phlo_default_capabilities_selects_ours_for_unnamed_requests(installed, tmp_path):
    defaults = json.dumps(
        {"maintenance_executor": "snapshot_expiry", "schema_migrator": "lakehouse"}
    )
    requests = [["maintenance_executor", None], ["schema_migrator", None], ["table_store", None]]
    resolved = _discover(tmp_path, requests, PHLO_DEFAULT_CAPABILITIES=defaults)["resolved"]
    assert resolved == {
        "maintenance_executor:None": ["snapshot_expiry", "phlo_lakehouse"],
        "schema_migrator:None": ["lakehouse", "phlo_lakehouse"],
        "table_store:None": ["iceberg", "phlo_iceberg"],
    }


def test_phlo_yaml_defaults_select_ours_too(installed, tmp_path):
    (tmp_path / "phlo.yaml").write_text(
        "name: demo\ncapabilities:\n  defaults:\n    maintenance_executor: compact\n"
    )
    resolved = _discover(tmp_path, [["maintenance_executor", None]])["resolved"]
    assert resolved == {"maintenance_executor:None": ["compact", "phlo_lakehouse"]}


def test_phlo_dagsters_own_loaders_find_ours_and_trinos(installed, tmp_path):
    code = textwrap.dedent(
        """
        import json
        from phlo.capabilities.discovery import discover_capabilities
        discover_capabilities()
        from phlo_dagster.iceberg_maintenance import _load_snapshot_expiry_executor
        from phlo_dagster.maintenance_sensor import _load_optimize_maintenance_executor
        print(json.dumps([type(_load_snapshot_expiry_executor()).__module__,
                          type(_load_optimize_maintenance_executor()).__module__]))
        """
    )
    env = environment(
        drop=("PLUGINS_",),
        PHLO_DEFAULT_CAPABILITIES=json.dumps({"maintenance_executor": "snapshot_expiry"}),
    )
    assert run_python(code, cwd=tmp_path, env=env) == [
        "phlo_lakehouse.phlo_adapter.executors",  # expiry: the unnamed executor, as configured
        "phlo_trino.resource",  # Trino OPTIMIZE: still phlo-trino's, by name
    ]
