"""Fenced code blocks of the Markdown docs, and how each one is run against a demo lakehouse.

The rule (CONTRIBUTING.md, "Docs test"): every fenced block in README.md, CONTRIBUTING.md and
docs/*.md is run by ``test_examples.py``. An HTML comment on the line right before the fence marks
a block: ``<!-- docs-test: needs=nessie -->``, ``<!-- docs-test: exit=2 -->``,
``<!-- docs-test: file=definitions.py -->``, ``<!-- docs-test: skip="output sample" -->``.

Example:
    >>> text = "<!-- docs-test: exit=2 -->\\n```bash\\nphlo-lakehouse x\\n```\\n"
    >>> blocks = extract_blocks("x.md", text)
    >>> blocks[0].language, blocks[0].marks["exit"], blocks[0].line
    ('bash', '2', 3)
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PYTHON = {"python", "py", "pycon"}
SHELL = {"bash", "console", "shell", "sh"}
YAML = {"yaml", "yml"}
TOML = {"toml"}
#: Not run: output samples, diagrams, plain text.
TEXT = {"text", "txt", "output"}
#: Marks a block may carry.
MARKS = {"needs", "exit", "file", "skip"}
#: Commands a shell block runs (anything else, such as make or pip, is shown, not run).
CLI_COMMANDS = ("phlo-lakehouse", "phlo lakehouse")

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARK = re.compile(r"^\s*<!--\s*docs-test:(?P<body>.*?)-->\s*$")


class DocsExampleError(AssertionError):
    """A docs example that does not run as documented (names the file and line)."""


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its marks and its text."""

    path: str
    line: int  # 1-based line of the block's first code line
    language: str
    code: str
    marks: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def needs(self) -> list[str]:
        return [s for s in self.marks.get("needs", "").split(",") if s]


def parse_marks(body: str, where: str) -> dict[str, str]:
    """``needs=nessie exit=2 skip="why"`` → a dict; unknown marks are errors."""
    marks: dict[str, str] = {}
    for token in shlex.split(body):
        key, sep, value = token.partition("=")
        if not sep or key not in MARKS:
            raise DocsExampleError(
                f"{where}: unknown docs-test mark {token!r}; use one of "
                + ", ".join(f"{m}=…" for m in sorted(MARKS))
            )
        marks[key] = value
    return marks


def extract_blocks(path: str, text: str) -> list[Block]:
    """Every fenced block of ``text``, with the docs-test marks on the line before it."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        language = match["info"].strip().split(" ")[0].lower() if match["info"].strip() else ""
        mark = _MARK.match(lines[i - 1]) if i > 0 else None
        marks = parse_marks(mark["body"], f"{path}:{i}") if mark else {}
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence[0] * len(fence))
            and lines[j].strip().strip(fence[0]) == ""
        ):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        if j == len(lines):
            raise DocsExampleError(f"{path}:{i + 1}: code fence is never closed")
        blocks.append(Block(path, i + 2, language, "\n".join(body) + "\n", marks))
        i = j + 1
    return blocks


def shell_commands(code: str) -> list[str]:
    """The ``phlo-lakehouse …`` / ``phlo lakehouse …`` command lines of a shell block.

    A leading ``$ `` prompt is dropped, backslash continuations are joined, and lines that are
    output (in a ``console`` block, lines without a prompt after a prompted one) are ignored.
    """
    joined: list[str] = []
    pending = ""
    for raw in code.splitlines():
        line = pending + raw.lstrip() if pending else raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1].rstrip() + " "
            continue
        pending = ""
        joined.append(line)
    prompted = any(line.startswith("$ ") for line in joined)
    commands = []
    for line in joined:
        if prompted:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        stripped = line.strip()
        if stripped.startswith(CLI_COMMANDS):
            commands.append(stripped)
    return commands


def run_shell_block(block: Block, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run each CLI line of ``block`` in ``cwd``; every one must exit with the declared code."""
    expected = int(block.marks.get("exit", "0"))
    bin_dir = str(Path(sys.executable).parent)
    env = {**env, "PATH": bin_dir + os.pathsep + env.get("PATH", "")}
    ran = []
    for command in shell_commands(block.code):
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != expected:
            raise DocsExampleError(
                f"{block.where}: `{command}` exited {done.returncode}, the docs expect {expected} "
                f"(mark the block <!-- docs-test: exit=N --> if that is intended)\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            )
        ran.append(command)
    return ran


def run_python_block(block: Block, namespace: dict[str, object], cwd: Path) -> None:
    """Execute a Python block in ``namespace`` (shared by one document's blocks, in order).

    With ``file=NAME`` the block is also written to ``cwd/NAME``; a ``defs`` it defines must load
    as Dagster definitions.
    """
    target = block.marks.get("file")
    if target:
        (cwd / target).write_text(block.code)
    try:
        code = compile(block.code, block.where, "exec")
        exec(code, namespace)  # the docs' own example, run as written
    except Exception as error:
        raise DocsExampleError(f"{block.where}: {type(error).__name__}: {error}") from error
    defs = namespace.get("defs") if target else None
    if defs is not None:
        import dagster as dg

        if isinstance(defs, dg.Definitions):
            try:
                defs.get_repository_def().load_all_definitions()
            except Exception as error:
                raise DocsExampleError(
                    f"{block.where}: definitions do not load: {error}"
                ) from error


def check_data_block(block: Block) -> None:
    """YAML and TOML blocks must parse."""
    try:
        if block.language in YAML:
            list(yaml.safe_load_all(block.code))
        else:
            tomllib.loads(block.code)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        raise DocsExampleError(f"{block.where}: does not parse: {error}") from error


def kind_of(block: Block) -> str:
    """``python``, ``shell``, ``data`` or ``text``; an error for a block of unknown language."""
    for kind, languages in (
        ("python", PYTHON),
        ("shell", SHELL),
        ("data", YAML | TOML),
        ("text", TEXT),
    ):
        if block.language in languages:
            return kind
    raise DocsExampleError(
        f"{block.where}: fenced block with language {block.language or '(none)'!r}; give it one of "
        "python, bash, console, yaml, toml, or text for output samples and diagrams"
    )
