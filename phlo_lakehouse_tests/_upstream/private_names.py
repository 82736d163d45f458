"""Finds uses of PyIceberg's and pynessie's private names in Python source, by its AST.

A use is any of:

- an import of a ``_``-prefixed name, or from a ``_``-prefixed module, of pyiceberg/pynessie
  (``from pyiceberg.io.pyarrow import _to_requested_schema``);
- an attribute ``x._name`` (``x`` anything but ``self``/``cls``) where ``_name`` is a private
  name PyIceberg or pynessie define (read from their installed sources, so the oracle does not
  depend on our code), or ``super()._name`` in a class with a base we did not define;
- ``self._name`` inside a class deriving from a class we did not define (an upstream import,
  or a base only known at run time) that does not define ``_name`` itself;
- ``getattr``/``setattr``/``hasattr`` with such a name as a string literal.

Dunder names are not private. The oracle is the upstream packages' own source: every
``_``-prefixed function, class, method, attribute or module they define.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

UPSTREAM = ("pyiceberg", "pynessie")


@dataclass(frozen=True)
class PrivateUse:
    """One use of an upstream private name: where, and which name."""

    path: str
    line: int
    name: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name}"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@cache
def upstream_private_names() -> frozenset[str]:
    """Every private name PyIceberg and pynessie define (functions, classes, methods,
    attributes assigned anywhere, modules)."""
    names: set[str] = set()
    for package in UPSTREAM:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, package
        for root in spec.submodule_search_locations:
            for path in Path(root).rglob("*.py"):
                if is_private(path.stem):
                    names.add(path.stem)
                tree = ast.parse(path.read_text(encoding="utf-8"))
                for node in ast.walk(tree):
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        candidate = node.name
                    elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                        candidate = node.attr
                    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        candidate = node.id
                    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                        candidate = node.target.id
                    else:
                        continue
                    if is_private(candidate):
                        names.add(candidate)
    return frozenset(names)


def private_uses(source: str, path: str = "<source>") -> list[PrivateUse]:
    """The upstream private names ``source`` uses, in line order."""
    tree = ast.parse(source)
    private = upstream_private_names()
    upstream_bound: set[str] = set()  # names bound to upstream modules or objects
    ours: set[str] = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    uses: list[PrivateUse] = []

    def use(node: ast.AST, name: str) -> None:
        uses.append(PrivateUse(path, getattr(node, "lineno", 0), name))

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            for alias in node.names:
                bound = alias.asname or alias.name
                if parts[0] in UPSTREAM:
                    upstream_bound.add(bound)
                    if is_private(alias.name) or any(is_private(p) for p in parts):
                        use(node, f"{node.module}.{alias.name}")
                elif parts[0] == "phlo_lakehouse":
                    ours.add(bound)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in UPSTREAM:
                    upstream_bound.add(alias.asname or parts[0])
                    if any(is_private(p) for p in parts):
                        use(node, alias.name)

    # super()._name in a class whose bases are all ours reaches our own code, not upstream's.
    supers_of_ours = _supers_in_classes_of_ours(tree, ours)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            value = node.value
            if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                continue
            is_super = _is_super_call(value) and id(value) not in supers_of_ours
            root = value
            while isinstance(root, ast.Attribute):
                root = root.value
            on_upstream = isinstance(root, ast.Name) and root.id in upstream_bound
            if is_super or on_upstream or node.attr in private:
                use(node, node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and node.args[1].value in private
            and not (isinstance(node.args[0], ast.Name) and node.args[0].id == "self")
        ):
            use(node, node.args[1].value)
        elif isinstance(node, ast.ClassDef):
            uses.extend(_inherited_uses(node, ours, path))
    return sorted(set(uses), key=lambda u: (u.line, u.name))


def _inherited_uses(cls: ast.ClassDef, ours: set[str], path: str) -> list[PrivateUse]:
    """``self._name`` in a class with a base we did not define, for names the class does not
    define itself."""
    if not _foreign_bases(cls, ours):
        return []
    defined: set[str] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    private = upstream_private_names()
    return [
        PrivateUse(path, node.lineno, node.attr)
        for node in ast.walk(cls)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and is_private(node.attr)
        and node.attr not in defined
        and node.attr in private
    ]


def _foreign_bases(cls: ast.ClassDef, ours: set[str]) -> list[ast.expr]:
    """The bases of ``cls`` we did not define (typing helpers aside)."""
    return [
        b
        for b in cls.bases
        if not (isinstance(b, ast.Name) and b.id in ours | {"object"})
        and not (isinstance(b, ast.Attribute | ast.Subscript | ast.Name) and _is_typing(b))
    ]


def _supers_in_classes_of_ours(tree: ast.AST, ours: set[str]) -> set[int]:
    """The ids of the ``super()`` calls whose innermost enclosing class has only our bases."""
    found: set[int] = set()

    def visit(node: ast.AST, ours_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, not _foreign_bases(child, ours))
                continue
            if ours_class and _is_super_call(child):
                found.add(id(child))
            visit(child, ours_class)

    visit(tree, False)
    return found


def _is_super_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _is_typing(base: ast.expr) -> bool:
    text = ast.unparse(base)
    return text.split("[")[0] in ("Protocol", "Generic", "ABC", "NamedTuple", "TypedDict")
