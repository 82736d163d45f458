"""Lazy imports for the ``phlo-lakehouse`` process: heavy modules PyIceberg imports eagerly
but most commands never use are loaded on first use instead.

A real command pays for its imports before doing any work (about a second of CPU for PyIceberg,
SQLAlchemy, pyarrow and pandas). These are imported by PyIceberg at module level and used only
by some code paths:

- ``pyarrow.dataset`` (``pyiceberg.io.pyarrow``): only PyIceberg's own scan and delete-file
  readers use it; loading it also makes pyarrow import pandas (its scalar conversion probes for
  pandas types). Compaction of files already in the write schema, expiry and vacuum never touch
  it.
- ``pyarrow.compute`` (``pyiceberg.io.pyarrow``; its function wrappers take ~40 ms of CPU to
  generate): compaction and scans use it, vacuum and expiry never do. PyIceberg reads one
  attribute at import, ``Expression``, which the placeholder hands out from the module it is
  defined in (`FORWARDED`) without loading the rest.
- ``pyiceberg.expressions.parser`` (``pyiceberg.table``, pyparsing): only string row filters.
- ``strictyaml`` (``pyiceberg.utils.config``, with dateutil): only to read a
  ``.pyiceberg.yaml`` when one exists.

`install` registers a finder that gives each of those a placeholder module; the first attribute
access (from any thread: the load holds a lock) imports the real module and fills the
placeholder with its contents, so every later access is a plain module attribute. Only the
console script installs it (`phlo_lakehouse.cli.main.main`); importing the package or running
the CLI in-process (tests, Phlo's plugin) changes nothing.

Example:
    >>> install()            # doctest: +SKIP
    >>> import pyarrow.dataset as ds; ds.dataset  # loads it here  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import threading
import types
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

#: Modules made lazy; each must be imported at module level only as ``import x`` / ``import x
#: as y`` by the code that imports it (a ``from x import y`` loads it at once, which is safe).
LAZY_MODULES = ("pyarrow.compute", "pyarrow.dataset", "pyiceberg.expressions.parser", "strictyaml")

#: Attributes a placeholder hands out without loading its module: the module the real one
#: re-exports them from, which is far lighter (the very same objects: a test checks identity).
#: ``pyiceberg.io.pyarrow`` reads ``pc.Expression`` at import, as a type argument of a base.
FORWARDED = {"pyarrow.compute": {"Expression": "pyarrow._compute"}}

_LOCK = threading.RLock()
_loaded: dict[str, types.ModuleType] = {}
_loading: set[str] = set()


class _Placeholder(types.ModuleType):
    """Stands in for a lazy module until one of its attributes is read."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)  # introspection (copy, pickle, doctest) stays lazy
        source = FORWARDED.get(self.__name__, {}).get(attribute)
        if source is not None:
            return getattr(importlib.import_module(source), attribute)
        return getattr(_load(self.__name__), attribute)


def _load(name: str) -> types.ModuleType:
    with _LOCK:
        real = _loaded.get(name)
        if real is not None:
            return real
        placeholder = sys.modules.pop(name, None)
        _loading.add(name)
        try:
            real = importlib.import_module(name)
        except BaseException:
            if placeholder is not None:
                sys.modules[name] = placeholder
            raise
        finally:
            _loading.discard(name)
        _loaded[name] = real
        if placeholder is not None and placeholder is not real:
            placeholder.__dict__.update(real.__dict__)
        return real


class _PlaceholderLoader:  # the loader and finder protocols (importlib.abc costs an import)
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _Placeholder(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _LazyFinder:
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in LAZY_MODULES or name in _loaded or name in _loading:
            return None
        return importlib.machinery.ModuleSpec(name, cast("Loader", _PlaceholderLoader()))


_FINDER = _LazyFinder()


def install() -> None:
    """Make `LAZY_MODULES` lazy in this process (only those not imported yet)."""
    if _FINDER in sys.meta_path:
        return
    for name in LAZY_MODULES:
        if name in sys.modules:
            _loaded[name] = sys.modules[name]
    sys.meta_path.insert(0, _FINDER)
