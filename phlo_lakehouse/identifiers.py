"""Table identifiers, ref names and table selectors, validated before any catalog is touched.

Example:
    >>> ident = parse_table_identifier("raw.events")
    >>> ident.namespace, ident.name, str(ident)
    (('raw',), 'events', 'raw.events')
    >>> TableSelector.parse("raw.*").matches(ident)
    True
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from phlo_lakehouse.errors import InvalidIdentifier, InvalidRefName

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-$]*$")
_SELECTOR_PART = re.compile(r"^[A-Za-z0-9_*?\[\]][A-Za-z0-9_\-$*?\[\]]*$")
# Nessie's and Iceberg's rules for reference names, restricted to what both accept.
_REF = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_\-./]*[A-Za-z0-9_\-])?$")
_IDENT_HINT = (
    "write namespace.table, e.g. raw.events (letters, digits, _ - $; dots separate levels)"
)


@dataclass(frozen=True, order=True)
class TableIdentifier:
    """A table's namespace levels and name.

    Example:
        >>> TableIdentifier(("raw",), "events").as_tuple()
        ('raw', 'events')
    """

    namespace: tuple[str, ...]
    name: str

    def as_tuple(self) -> tuple[str, ...]:
        """The identifier as PyIceberg's tuple form."""
        return (*self.namespace, self.name)

    def __str__(self) -> str:
        return ".".join(self.as_tuple())


def parse_table_identifier(value: str | Sequence[str] | TableIdentifier) -> TableIdentifier:
    """Parse "ns.table" (or "a.b.table", or a tuple) into a validated `TableIdentifier`.

    Raises:
        InvalidIdentifier: empty parts, no namespace, or characters outside the allowed set.

    Example:
        >>> parse_table_identifier(("a", "b", "t")).namespace
        ('a', 'b')
    """
    if isinstance(value, TableIdentifier):
        return value
    parts = _split(value)
    if len(parts) < 2:
        raise InvalidIdentifier(
            f"table identifier {_show(value)} has no namespace", hint=_IDENT_HINT
        )
    for part in parts:
        if not _PART.match(part):
            raise InvalidIdentifier(
                f"table identifier {_show(value)} has an invalid part {part!r}", hint=_IDENT_HINT
            )
    return TableIdentifier(tuple(parts[:-1]), parts[-1])


def parse_namespace(value: str | Sequence[str]) -> tuple[str, ...]:
    """Parse "raw" or "a.b" into a validated namespace tuple.

    Example:
        >>> parse_namespace("a.b")
        ('a', 'b')
    """
    parts = _split(value)
    if not parts or not all(_PART.match(p) for p in parts):
        raise InvalidIdentifier(
            f"namespace {_show(value)} is not valid",
            hint="write a namespace like raw or a.b (letters, digits, _ - $)",
        )
    return tuple(parts)


def validate_ref_name(ref: str) -> str:
    """Check that a branch or tag name is well formed and return it.

    Raises:
        InvalidRefName: empty, has spaces or characters a ref cannot hold.

    Example:
        >>> validate_ref_name("etl/2026-11-25")
        'etl/2026-11-25'
    """
    if not isinstance(ref, str) or not _REF.match(ref) or ".." in ref or "//" in ref:
        raise InvalidRefName(
            f"ref {ref!r} is not a valid branch or tag name",
            hint="start with a letter; use letters, digits, _ - . / (e.g. main, dev, etl/2026-11)",
        )
    return ref


@dataclass(frozen=True)
class TableSelector:
    """A table pattern such as "raw.*", "*.events" or "raw.events"; resolved at run time.

    Example:
        >>> TableSelector.parse("raw.ev*").matches(parse_table_identifier("raw.events"))
        True
    """

    pattern: str

    @classmethod
    def parse(cls, pattern: str) -> TableSelector:
        """Validate a selector pattern (wildcards * ? [..] allowed in every part)."""
        parts = _split(pattern)
        if len(parts) < 2 or not all(_SELECTOR_PART.match(p) for p in parts):
            raise InvalidIdentifier(
                f"table selector {pattern!r} is not valid",
                hint="write namespace.table with optional wildcards, e.g. raw.* or *.events",
            )
        return cls(".".join(parts))

    @property
    def namespace_prefix(self) -> tuple[str, ...]:
        """The literal namespace levels before the first wildcard (used to limit listing)."""
        prefix: list[str] = []
        for part in self.pattern.split(".")[:-1]:
            if any(c in part for c in "*?["):
                break
            prefix.append(part)
        return tuple(prefix)

    @property
    def is_literal(self) -> bool:
        """True when the selector names exactly one table."""
        return not any(c in self.pattern for c in "*?[")

    def matches(self, identifier: TableIdentifier) -> bool:
        """True when the identifier matches the pattern (level count must agree)."""
        text = str(identifier)
        if text.count(".") != self.pattern.count("."):
            return False
        return fnmatch.fnmatchcase(text, self.pattern)


def select_tables(
    selectors: Iterable[str | TableSelector], tables: Iterable[TableIdentifier]
) -> list[TableIdentifier]:
    """The tables matching any selector, sorted and without duplicates.

    Example:
        >>> ts = [parse_table_identifier(t) for t in ["raw.a", "raw.b", "mart.c"]]
        >>> [str(t) for t in select_tables(["raw.*"], ts)]
        ['raw.a', 'raw.b']
    """
    parsed = [s if isinstance(s, TableSelector) else TableSelector.parse(s) for s in selectors]
    return sorted({t for t in tables if any(s.matches(t) for s in parsed)})


def _split(value: str | Sequence[str]) -> list[str]:
    if isinstance(value, str):
        return value.strip().split(".") if value.strip() else []
    return [str(p) for p in value]


def _show(value: str | Sequence[str]) -> str:
    return repr(value if isinstance(value, str) else ".".join(map(str, value)))
