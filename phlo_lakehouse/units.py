"""Durations ("36h", "5d", ISO-8601 "P5D") and sizes ("128MB", "512MiB") parsed in one place.

Sizes follow the convention of Iceberg's and Spark's own documentation: "512 MB" means
536,870,912 bytes, so ``MB`` and ``MiB`` both mean 2**20 (likewise KB/KiB, GB/GiB, TB/TiB).

Example:
    >>> parse_duration("36h")
    datetime.timedelta(days=1, seconds=43200)
    >>> parse_size("128MB")
    134217728
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from phlo_lakehouse.errors import InvalidConfig, InvalidDuration, InvalidSize

_DURATION_HINT = "use a number with a unit: 90m, 36h, 5d, 2w, or ISO-8601 like P5D / PT36H"
_SIZE_HINT = "use a positive whole number of bytes or a unit: 512KB, 128MB, 512MiB, 1GB"

_SHORT_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)\s*$", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_POWERS = {"b": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_KIB, _GIB, _TIB = 2**10, 2**30, 2**40


@dataclass(frozen=True)
class SizeRange:
    """The sizes a setting accepts (inclusive), so a slip such as ``1`` for ``1GB`` is refused
    before it plans hundreds of thousands of one-row files.

    Attributes:
        smallest: fewest bytes accepted.
        largest: most bytes accepted.
        what: what the size is of, for the message ("a file", "a file group").
    """

    smallest: int
    largest: int
    what: str

    def hint(self) -> str:
        return (
            f"{self.what} size must be from {format_size(self.smallest)} to "
            f"{format_size(self.largest)}, e.g. 128MB (Iceberg's default target is 512MB)"
        )


#: Target sizes of data, delete and manifest files: 1 KiB keeps the small files tests and demos
#: use; 64 GiB is far above any Iceberg writer's target (512 MB by default).
FILE_SIZES = SizeRange(_KIB, 64 * _GIB, "a file")
#: Most input bytes in one file group (Iceberg's max-file-group-size-bytes, 100 GB by default).
GROUP_SIZES = SizeRange(_KIB, 16 * _TIB, "a file group")


def parse_duration(value: str | int | float | timedelta, *, name: str = "duration") -> timedelta:
    """Parse a duration; numbers are seconds. Negative or malformed values raise.

    Args:
        value: "36h", "5d", "2w", "90m", "P5D", "PT36H", a number of seconds or a timedelta.
        name: what the value is for, used in the error message (e.g. "older_than").

    Returns:
        The duration as a non-negative ``timedelta``.

    Raises:
        InvalidDuration: the value is malformed or negative.

    Example:
        >>> parse_duration("P1DT12H") == parse_duration("36h")
        True
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise InvalidDuration(f"{name}={value!r} is not a duration", hint=_DURATION_HINT)
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_duration_text(value, name)
    else:
        raise InvalidDuration(f"{name}={value!r} is not a duration", hint=_DURATION_HINT)
    if seconds < 0:
        raise InvalidDuration(f"{name}={value!r} is negative", hint=_DURATION_HINT)
    return timedelta(seconds=seconds)


def _parse_duration_text(text: str, name: str) -> float:
    stripped = text.strip()
    if stripped.startswith("-"):
        raise InvalidDuration(f"{name}={text!r} is negative", hint=_DURATION_HINT)
    short = _SHORT_DURATION.match(stripped)
    if short:
        return float(short.group(1)) * _UNIT_SECONDS[short.group(2).lower()]
    iso = _ISO_DURATION.match(stripped)
    if iso and stripped.upper() not in ("P", "PT") and any(iso.groupdict().values()):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v is not None}
        return timedelta(**parts).total_seconds()
    raise InvalidDuration(f"{name}={text!r} is not a duration", hint=_DURATION_HINT)


def parse_size(value: str | int, *, name: str = "size", within: SizeRange | None = None) -> int:
    """Parse a size in bytes; ``MB`` and ``MiB`` both mean 2**20 bytes.

    Args:
        value: "128MB", "512MiB", "1g", "1048576" or an int.
        name: what the value is for, used in the error message.
        within: the sizes accepted (`FILE_SIZES`, `GROUP_SIZES`); None: any positive size.

    Returns:
        A positive number of bytes.

    Raises:
        InvalidSize: the value is malformed, zero, negative or outside ``within``.

    Example:
        >>> parse_size("512MiB") == parse_size("512MB") == 512 * 1024 * 1024
        True
    """
    if isinstance(value, bool):
        raise InvalidSize(f"{name}={value!r} is not a size", hint=_SIZE_HINT)
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise InvalidSize(f"{name}={value!r} is not a size", hint=_SIZE_HINT)
        unit = (match.group(2) or "b").lower()
        size = int(float(match.group(1)) * 1024 ** _SIZE_POWERS[unit[0]])
    else:
        raise InvalidSize(f"{name}={value!r} is not a size", hint=_SIZE_HINT)
    if size <= 0:
        raise InvalidSize(f"{name}={value!r} must be positive", hint=_SIZE_HINT)
    if within is not None and not within.smallest <= size <= within.largest:
        side = "below" if size < within.smallest else "above"
        bound = within.smallest if size < within.smallest else within.largest
        raise InvalidSize(
            f"{name}={value!r} ({format_size(size)}) is {side} {format_size(bound)}",
            hint=within.hint(),
        )
    return size


def format_duration(value: timedelta) -> str:
    """A duration as the CLI takes it: whole days, hours, minutes or seconds.

    Example:
        >>> format_duration(timedelta(hours=36)), format_duration(timedelta(days=3))
        ('36h', '3d')
    """
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def format_size(num_bytes: int | float) -> str:
    """Render bytes for people: 134217728 -> "128.0 MiB".

    Example:
        >>> format_size(1536)
        '1.5 KiB'
    """
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


#: an `int_property` default: a whole number, or None for "no default"
IntDefault = TypeVar("IntDefault", int, None)


def int_property(
    properties: Mapping[str, str],
    key: str,
    default: IntDefault,
    *,
    minimum: int = 0,
    hint: str | None = None,
) -> int | IntDefault:
    """The whole-number table property ``key`` (``default`` when unset).

    Example:
        >>> int_property({"commit.retry.num-retries": "3"}, "commit.retry.num-retries", 4)
        3

    Raises:
        InvalidConfig: the value is not a whole number of at least ``minimum``.
    """
    raw = properties.get(key)
    if raw is None:
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise InvalidConfig(
            f"table property {key}={raw!r} is not a whole number >= {minimum}",
            hint=hint or f"fix or remove the table property {key}",
        )
    return value
