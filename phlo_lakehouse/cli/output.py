"""Rendering for the CLI: aligned text tables, key/value blocks, one JSON document, progress.

Data goes to stdout; errors, prompts and progress go to stderr, so ``--format json`` output can
be piped straight into ``jq`` or ``json.loads``.

Example:
    >>> print(render_rows([{"table": "raw.a", "rows": 10}], ["table", "rows"]))
    TABLE  ROWS
    raw.a    10
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import click

from phlo_lakehouse.units import format_size


def emit_json(document: Any) -> None:
    """Print ``document`` as one JSON document on stdout (and note that the invocation has
    printed its document: an error after it is then reported on stderr only).

    Example:
        >>> emit_json({"tables": ["raw.a"]})
        {
          "tables": [
            "raw.a"
          ]
        }
    """
    click.echo(json.dumps(document, indent=2, sort_keys=True, default=str))
    from phlo_lakehouse.cli.command import CliState

    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    if state is not None:
        state.emitted_json = True


def format_value(key: str, value: Any) -> str:
    """A figure for people: sizes (keys ending in ``bytes``/``size``) in KiB/MiB, None as "-".

    Example:
        >>> format_value("orphan_bytes", 2048), format_value("rows", None)
        ('2.0 KiB', '-')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_number(value) and (key.endswith(("bytes", "_size")) or key.startswith("bytes_")):
        return format_size(value)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def render_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as an aligned text table with upper-case headers; numbers align right.

    Example:
        >>> print(render_rows([{"a": "x", "b": 1}, {"a": "yy", "b": 22}], ["a", "b"]))
        A    B
        x    1
        yy  22
    """
    if not rows:
        return ""
    cells = [[format_value(c, row.get(c)) for c in columns] for row in rows]
    headers = [c.upper() for c in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r.get(c)) for r in rows if r.get(c) is not None) for c in columns]
    lines = []
    for line in [headers, *cells]:
        padded = [
            cell.rjust(w) if num else cell.ljust(w)
            for cell, w, num in zip(line, widths, numeric, strict=True)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def render_pairs(pairs: Iterable[tuple[str, Any]]) -> str:
    """``key: value`` lines with aligned values.

    Example:
        >>> print(render_pairs([("table", "raw.a"), ("size_bytes", 1024)]))
        table:      raw.a
        size_bytes: 1.0 KiB
    """
    items = list(pairs)
    width = max((len(k) for k, _ in items), default=0) + 2
    return "\n".join(f"{k + ':':<{width}}{format_value(k, v)}" for k, v in items)


def indent(text: str, prefix: str = "  ") -> str:
    r"""Every line of ``text`` indented by ``prefix``; empty text becomes ``(none)``.

    Example:
        >>> indent("a\nb")
        '  a\n  b'
    """
    return "\n".join(prefix + line for line in text.splitlines()) if text else prefix + "(none)"


def echo_section(title: str, body: str) -> None:
    """Print a titled, indented block after a blank line."""
    click.echo(f"\n{title}")
    click.echo(indent(body))


class Progress:
    """A progress bar on stderr (`click.progressbar`), moved as each unit of work completes.

    The total comes from plan figures (files to rewrite, files to delete …); `advance` moves
    the bar. Disabled (draws nothing) when ``enabled`` is False: the CLI enables it only for
    table output on a terminal. On a stream that is not a terminal, click prints the label once
    and no bar.

    Args:
        label: what runs, e.g. "optimize demo.events".
        total: units of work (from the plan).
        unit: what a unit is, e.g. "files".
        total_bytes: bytes of work, shown next to the count when known.
        enabled: draw at all.
        stream: where to draw (default: stderr).

    Example:
        >>> with Progress("vacuum raw.a", total=3, unit="files", enabled=False) as bar:
        ...     bar.advance(3)
        >>> bar.done
        3
    """

    width = 24

    def __init__(
        self,
        label: str,
        *,
        total: int,
        unit: str,
        total_bytes: int | None = None,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.total = max(0, int(total))
        self.unit = unit
        self.total_bytes = total_bytes
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.done_bytes = 0
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._bar = click.progressbar(
                length=self.total,
                label=self.label,
                file=self.stream,
                width=self.width,
                show_pos=False,
                bar_template="%(label)s  [%(bar)s] %(info)s",
                item_show_func=lambda _: self.figures(),
            )
            self._bar.__enter__()
            self._bar.render_progress()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def figures(self) -> str:
        """Units (and bytes, when known) done so far, e.g. "2/3 files  1.0 KiB/2.0 KiB"."""
        text = f"{self.done}/{self.total} {self.unit}"
        if self.total_bytes:
            text += f"  {format_size(self.done_bytes)}/{format_size(self.total_bytes)}"
        return text

    def advance(self, units: int, num_bytes: int = 0) -> None:
        """Count ``units`` (and ``num_bytes``) of work as done."""
        step = min(self.total - self.done, max(0, units))
        self.done += step
        self.done_bytes += max(0, num_bytes)
        if self._bar is not None:
            self._bar.update(step, current_item=self.done)
