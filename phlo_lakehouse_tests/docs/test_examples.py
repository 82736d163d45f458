"""Every fenced code block of README.md, CONTRIBUTING.md and docs/*.md runs as documented.

Python blocks run in one namespace per document, in order, against a fresh seeded demo lakehouse
(``<tmp>/.lakehouse``, as ``phlo-lakehouse demo seed`` makes it, with ``PHLO_LAKEHOUSE_HOME``
pointing there and the working directory beside it); shell blocks run their ``phlo-lakehouse …``
lines as real subprocesses that must exit 0 or the declared ``exit=N``; YAML and TOML blocks parse.
Marks and the rule: CONTRIBUTING.md, "Docs test". Blocks marked ``needs=SERVICE`` run when that
service is up (in CI always).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from phlo_lakehouse_tests.conftest import SERVICE_MARKERS, missing_service, require_env
from phlo_lakehouse_tests.docs.markdown_examples import (
    Block,
    check_data_block,
    extract_blocks,
    kind_of,
    run_python_block,
    run_shell_block,
)

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    [p for p in (ROOT / "README.md", ROOT / "CONTRIBUTING.md") if p.exists()]
    + list((ROOT / "docs").glob("*.md"))
)
#: The environment variable each service's endpoint is in (scripts/services/all.sh writes them).
SERVICE_ENV = {
    "postgres": "PHLO_TEST_POSTGRES_URL",
    "moto": "PHLO_TEST_S3_ENDPOINT",
    "nessie": "PHLO_TEST_NESSIE_URI",
    "iceberg_rest": "PHLO_TEST_ICEBERG_REST_URI",
    "hive": "PHLO_TEST_HIVE_URI",
    "spark_connect": "PHLO_TEST_SPARK_CONNECT_URL",
    "pushgateway": "PHLO_TEST_PUSHGATEWAY_URL",
}
#: Variables of the caller's environment that would point an example elsewhere than the demo.
_FOREIGN = ("PHLO_LAKEHOUSE_", "NESSIE_", "MINIO_", "ICEBERG_")


def _all_blocks() -> list[Block]:
    return [
        block
        for path in DOCUMENTS
        for block in extract_blocks(str(path.relative_to(ROOT)), path.read_text())
    ]


BLOCKS = _all_blocks()


@dataclass
class DocumentSession:
    """One document's demo home and Python namespace; blocks run in document order."""

    workdir: Path
    env: dict[str, str]
    namespace: dict[str, object] = field(default_factory=lambda: {"__name__": "__docs__"})
    done: set[int] = field(default_factory=set)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory):
    from phlo_lakehouse import CatalogSettings, IcebergLakehouse
    from phlo_lakehouse.demo import plant_orphans, seed_demo_table

    made: dict[str, DocumentSession] = {}

    def session_for(path: str) -> DocumentSession:
        if path not in made:
            workdir = tmp_path_factory.mktemp("docs-" + Path(path).stem)
            home = workdir / ".lakehouse"
            # As `phlo-lakehouse demo seed --yes` seeds it (cli/demo.py defaults).
            handle = seed_demo_table(
                IcebergLakehouse(CatalogSettings.embedded(home)), commits=30, rows_per_commit=200
            )
            plant_orphans(handle, count=12)
            env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
            env["PHLO_LAKEHOUSE_HOME"] = str(home)
            made[path] = DocumentSession(workdir, env)
        return made[path]

    return session_for


def _run(block: Block, session: DocumentSession | None, request: pytest.FixtureRequest) -> None:
    kind = kind_of(block)
    if kind == "text" or "skip" in block.marks:
        return
    for service in block.needs:
        if service == "phlo":  # the package (extra [phlo]), not a server
            if importlib.util.find_spec("phlo") is None:
                missing_service("phlo is not installed: pip install -e '.[phlo]'")
            continue
        if service not in SERVICE_ENV:
            raise AssertionError(f"{block.where}: unknown service {service!r} in needs=")
        require_env(SERVICE_ENV[service], service)
    if kind == "data":
        check_data_block(block)
        if block.marks.get("file") and session is not None:
            (session.workdir / block.marks["file"]).write_text(block.code)
    elif kind == "shell":
        run_shell_block(block, session.workdir, session.env)
    else:
        saved_env, saved_cwd = dict(os.environ), Path.cwd()
        os.environ.clear()
        os.environ.update(session.env)
        os.chdir(session.workdir)
        try:
            run_python_block(block, session.namespace, session.workdir)
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)


def _needs_no_home(block: Block) -> bool:
    """Data and text blocks (unless written to a file) and skipped blocks need no demo home."""
    if "skip" in block.marks:
        return True
    return kind_of(block) in ("data", "text") and not block.marks.get("file")


def _sets_up(block: Block) -> bool:
    """Blocks a later block of the same document may depend on: Python, and files written."""
    return "skip" not in block.marks and (
        kind_of(block) == "python" or bool(block.marks.get("file"))
    )


def _param(block: Block):
    """The block as a test case carrying its services' markers (``needs=nessie`` → ``nessie``),
    so the service-free tier (``-m "not needs_service"``) leaves it out."""
    marks = [getattr(pytest.mark, s) for s in block.needs if s in SERVICE_MARKERS]
    return pytest.param(block, id=block.where, marks=marks)


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_docs_example_runs(block: Block, sessions, request: pytest.FixtureRequest) -> None:
    if _needs_no_home(block):
        _run(block, None, request)  # data and text blocks need no demo home
        return
    session = sessions(block.path)
    # Earlier Python blocks of the same document define names later ones use (run them first
    # when this block is selected alone; their own failures are reported by their own cases).
    for index, earlier in enumerate(BLOCKS):
        if earlier is block:
            break
        if earlier.path == block.path and index not in session.done and _sets_up(earlier):
            session.done.add(index)
            try:
                _run(earlier, session, request)
            except (AssertionError, pytest.skip.Exception, pytest.fail.Exception):
                pass
    session.done.add(BLOCKS.index(block))
    _run(block, session, request)


def test_every_document_is_covered() -> None:
    """The README and the docs directory are all found (a moved file would silently drop out)."""
    names = {p.relative_to(ROOT).as_posix() for p in DOCUMENTS}
    assert "README.md" in names and "CONTRIBUTING.md" in names
    assert any(name.startswith("docs/") for name in names)
    assert {b.path for b in BLOCKS} <= names
