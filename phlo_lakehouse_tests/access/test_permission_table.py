"""docs/access-control.md lists every operation with the permission it needs: the table and the
operation classes must agree, so a new operation cannot ship undocumented (or with a permission
the docs do not state)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import phlo_lakehouse
from phlo_lakehouse.access.policy import Permission
from phlo_lakehouse.operations.base import CatalogOperation, TableOperation

DOC = Path(__file__).resolve().parents[2] / "docs" / "access-control.md"
ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \|.*\| `(?P<permission>[a-z_]+)` \| [^|]+ \|$")


def documented() -> dict[str, str]:
    rows = [ROW.match(line) for line in DOC.read_text().splitlines()]
    return {m["name"]: m["permission"] for m in rows if m}


def implemented() -> dict[str, str]:
    for module in pkgutil.walk_packages(phlo_lakehouse.__path__, "phlo_lakehouse."):
        if not module.name.startswith(("phlo_lakehouse.dagster", "phlo_lakehouse.phlo_adapter")):
            importlib.import_module(module.name)
    found: dict[str, str] = {}
    pending = [TableOperation, CatalogOperation]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        shipped = cls.__module__.startswith("phlo_lakehouse.")  # not the tests' own operations
        if shipped and not inspect.isabstract(cls) and isinstance(vars(cls).get("name"), str):
            found[cls.name] = cls.permission
    return found


def test_every_operation_is_documented_with_its_permission():
    code = implemented()
    assert {"ref_merge", "wap_publish", "migrate", "optimize", "nessie_gc"} <= code.keys()
    assert documented() == code


def test_every_documented_permission_exists():
    assert set(documented().values()) <= {p.value for p in Permission}
