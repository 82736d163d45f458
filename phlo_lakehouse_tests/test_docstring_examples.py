"""Every ``>>>`` example in the package's docstrings runs and prints what it says it prints.

The examples are what a reader of the API reference copies; the oracle is the expected output
written in each docstring. Examples that need a server or a prepared file are marked
``# doctest: +SKIP`` where they stand.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import phlo_lakehouse

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(phlo_lakehouse.__path__, prefix="phlo_lakehouse.")
)


def test_every_module_is_found():
    assert "phlo_lakehouse.engines.sql" in MODULES
    assert "phlo_lakehouse._upstream.pyiceberg" in MODULES
    assert len(MODULES) > 150


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write relative paths write here
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    failures = []
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, "".join(failures)
