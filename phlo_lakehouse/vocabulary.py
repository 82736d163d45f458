"""Words in the caller's vocabulary: an argument spelled for Python, the CLI or Dagster run config.

An `Arg` in a `Phrase` reads ``force=True`` for Python callers, ``--force`` on the command line and
``vacuum.force: true`` in Dagster run config; `Words` carry any other per-surface wording (a
method for Python, a command for the CLI). The surface is the one `speaking` sets (Python by
default); errors (`phlo_lakehouse.errors`) render their message and hint in it.

Example:
    >>> Phrase("set {} or {}", Arg("suffix", "_iceberg"), Arg("mode", "migrate")).render("cli")
    'set --suffix _iceberg or --mode migrate'
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

#: The surfaces a hint can be spelled for: Python arguments, CLI flags, Dagster run config.
SURFACES = ("python", "cli", "dagster")

_SURFACE: ContextVar[str] = ContextVar("phlo_lakehouse_surface", default="python")


@contextmanager
def speaking(surface: str) -> Iterator[None]:
    """Errors raised inside the block spell their arguments for ``surface`` (one of `SURFACES`).

    The CLI runs each command inside ``speaking("cli")``, Dagster ops and components inside
    ``speaking("dagster")``; library callers get Python spellings.
    """
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; use one of {', '.join(SURFACES)}")
    token = _SURFACE.set(surface)
    try:
        yield
    finally:
        _SURFACE.reset(token)


def current_surface() -> str:
    """The surface errors raised now are spelled for (``python`` unless inside `speaking`)."""
    return _SURFACE.get()


@dataclass(frozen=True)
class Arg:
    """An argument a message or hint names, spelled per surface.

    Attributes:
        name: the Python keyword argument (and run-config key), e.g. ``older_than``.
        value: the value to suggest; None names the argument itself. A boolean is a switch:
            on the CLI it is the bare flag (give ``flag`` when that is not ``--<name>``).
        group: the run-config section the key sits in (Dagster), e.g. ``vacuum``.
        flag: the CLI flag when it is not ``--<name with dashes>``.
    """

    name: str
    value: Any = None
    group: str | None = None
    flag: str | None = None

    def spelled(self, surface: str) -> str:
        """How a caller on ``surface`` writes this argument."""
        if surface == "cli":
            flag = self.flag or "--" + self.name.replace("_", "-")
            if self.value is None or isinstance(self.value, bool):
                return flag
            values = self.value if isinstance(self.value, list | tuple) else [self.value]
            return " ".join(f"{flag} {shlex.quote(str(v))}" for v in values)
        if surface == "dagster":
            key = f"{self.group}.{self.name}" if self.group else self.name
            return key if self.value is None else f"{key}: {json.dumps(self.value)}"
        return self.name if self.value is None else f"{self.name}={self.value!r}"


@dataclass(frozen=True)
class Words:
    """Words that differ per surface, e.g. a method for Python and a command for the CLI.

    Attributes:
        python: the Python spelling (also Dagster's unless ``dagster`` is given).
        cli: the command-line spelling.
        dagster: the run-config spelling.
    """

    python: str
    cli: str
    dagster: str | None = None

    def spelled(self, surface: str) -> str:
        if surface == "cli":
            return self.cli
        if surface == "dagster" and self.dagster is not None:
            return self.dagster
        return self.python


class Phrase:
    """Text whose ``{}`` slots are `Arg`s or `Words`, rendered in one surface's vocabulary."""

    def __init__(self, template: str, *args: Arg | Words | Phrase) -> None:
        self.parts = template.split("{}")  # only "{}" is a slot: other braces are text
        if len(self.parts) != len(args) + 1:
            raise ValueError(f"{template!r} has {len(self.parts) - 1} slot(s) for {len(args)}")
        self.args = args

    def render(self, surface: str) -> str:
        spelled = [arg.spelled(surface) for arg in self.args] + [""]
        return "".join(part + word for part, word in zip(self.parts, spelled, strict=True))

    def spelled(self, surface: str) -> str:
        """The phrase as a slot of another phrase."""
        return self.render(surface)

    def __repr__(self) -> str:
        return f"Phrase({self.render('python')!r})"


__all__ = ["SURFACES", "Arg", "Phrase", "Words", "current_surface", "speaking"]
