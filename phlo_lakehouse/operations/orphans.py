"""Which files under a table's location are orphan candidates: the listing (hidden files skipped
as Spark's ``remove_orphan_files`` skips them) sorted by whether table metadata reaches them.

Example:
    >>> classification = classify_listed_files(listed, reachable)    # doctest: +SKIP
    >>> len(classification.unreachable)                             # doctest: +SKIP
    12
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import InvalidInput, OperationFailed
from phlo_lakehouse.storage.listing import StoredFile, list_storage, normalize_location
from phlo_lakehouse.units import format_duration, parse_duration
from phlo_lakehouse.vocabulary import Arg, Phrase

if TYPE_CHECKING:
    from phlo_lakehouse.table import LakehouseTable


@dataclass(frozen=True)
class OrphanClassification:
    """Listed files sorted by whether table metadata reaches them (file ages not considered).

    Attributes:
        reachable: listed files the metadata references (with ``prefix_mismatch="ignore"``, also
            files that match a reachable file by path only).
        unreachable: listed files the metadata does not reference (with
            ``prefix_mismatch="delete"``, also files that match a reachable file by path only).
        prefix_mismatches: (listed, referenced) pairs that match by path but differ in scheme or
            authority, e.g. ``("s3://b/t/x", "s3://a/t/x")``.
    """

    reachable: tuple[str, ...]
    unreachable: tuple[str, ...]
    prefix_mismatches: tuple[tuple[str, str], ...]


def classify_listed_files(
    listed: Iterable[str], reachable: Iterable[str], *, prefix_mismatch: str = "error"
) -> OrphanClassification:
    """Sort ``listed`` URIs into reachable and unreachable by their normalized location.

    Locations are compared with `normalize_location`, so ``s3a://``/``s3n://`` equal ``s3://`` and
    ``file:/x``, ``file:///x`` and ``/x`` are one file. A listed file whose path equals a reachable
    file's path while its scheme or authority differ is a prefix mismatch, handled per
    ``prefix_mismatch``.

    Args:
        listed: URIs found in storage.
        reachable: URIs the table metadata references.
        prefix_mismatch: "error" raises when there is any mismatch, "ignore" counts mismatched
            files as reachable, "delete" counts them as unreachable.

    Raises:
        OperationFailed: ``prefix_mismatch="error"`` and some listed file mismatches.
        InvalidInput: ``prefix_mismatch`` is not one of `PREFIX_MISMATCH_MODES`.

    Example:
        >>> c = classify_listed_files(
        ...     ["s3a://a/t/x", "s3://b/t/y", "s3://a/t/z"],
        ...     ["s3://a/t/x", "s3://a/t/y"],
        ...     prefix_mismatch="delete",
        ... )
        >>> c.reachable, c.unreachable, len(c.prefix_mismatches)
        (('s3a://a/t/x',), ('s3://a/t/z', 's3://b/t/y'), 1)
    """
    check_prefix_mismatch(prefix_mismatch)
    listed_files = [StoredFile(uri, 0, 0, normalize_location(uri)) for uri in set(listed)]
    return classify(listed_files, reachable, prefix_mismatch)


def classify(
    listed: Iterable[StoredFile], reachable: Iterable[str], prefix_mismatch: str
) -> OrphanClassification:
    """`classify_listed_files` on listed files (their `StoredFile.location` already known)."""
    prefixes_by_path: dict[str, dict[tuple[str, str], str]] = {}
    for uri in reachable:
        scheme, authority, path = normalize_location(uri)
        prefixes_by_path.setdefault(path, {}).setdefault((scheme, authority), uri)
    kept: list[str] = []
    unreachable: list[str] = []
    mismatches: list[tuple[str, str]] = []
    for f in listed:
        scheme, authority, path = f.location
        prefixes = prefixes_by_path.get(path)
        if prefixes is None:
            unreachable.append(f.path)
        elif (scheme, authority) in prefixes:
            kept.append(f.path)
        else:
            mismatches.append((f.path, min(prefixes.values())))
            (unreachable if prefix_mismatch == "delete" else kept).append(f.path)
    mismatches.sort()
    if mismatches and prefix_mismatch == "error":
        listed_uri, referenced = mismatches[0]
        raise OperationFailed(
            f"{len(mismatches)} listed file(s) match reachable files by path only (scheme or "
            f"authority differ), e.g. {listed_uri} vs referenced {referenced}",
            hint=prefix_mismatch_hint("vacuum"),
        )
    return OrphanClassification(tuple(sorted(kept)), tuple(sorted(unreachable)), tuple(mismatches))


def is_inside(location: str, parent: str, *, strictly: bool = False) -> bool:
    """True when ``location`` is below ``parent`` (or is ``parent``, unless ``strictly``),
    comparing normalized scheme, authority and path."""
    scheme, authority, path = normalize_location(location)
    parent_scheme, parent_authority, parent_path = normalize_location(parent)
    if (scheme, authority) != (parent_scheme, parent_authority):
        return False
    if path == parent_path:
        return not strictly
    return path.startswith(parent_path.rstrip("/") + "/")


def list_inside(table: LakehouseTable, location: str) -> list[StoredFile]:
    """Files under ``location``; anything a backend returns from outside it is dropped, so a
    sibling directory sharing the name prefix (``events`` / ``events_v2``) is never touched.
    Hidden files are skipped as Spark's ``remove_orphan_files`` does, except checksum sidecars
    (``.name.crc``) whose base file is gone: those went with it."""
    scheme, authority, base = normalize_location(location)
    base = base.rstrip("/")
    root = base + "/"
    inside = [
        f
        for f in list_storage(table.table.io, location)
        if f.location[2].startswith(root) and f.location[:2] == (scheme, authority)
    ]
    paths = {f.path for f in inside}
    return [f for f in inside if not _hidden(f.location[2], base) or _stale_checksum(f.path, paths)]


def _hidden(path: str, base: str) -> bool:
    """Hidden below the scanned location (``base``): a name or a directory starting with . or _
    (Hive-style ``_col=value`` partition directories are not hidden). What lies above the
    location, such as a ``.lakehouse`` home, does not count."""
    relative = path[len(base) :]
    if "/." not in relative and "/_" not in relative:
        return False  # no name below the location starts with . or _
    parts = relative.strip("/").split("/")
    name, directories = parts[-1], parts[:-1]
    hidden_dir = any(d.startswith((".", "_")) and "=" not in d for d in directories)
    return name.startswith((".", "_")) or hidden_dir


def _stale_checksum(path: str, listed: set[str]) -> bool:
    directory, _, name = path.rpartition("/")
    if not (name.startswith(".") and name.endswith(".crc")):
        return False
    return f"{directory}/{name[1:-4]}" not in listed


#: What to do with a listed file that matches a reachable file by path only.
PREFIX_MISMATCH_MODES = ("error", "ignore", "delete")

#: The youngest files an orphan sweep may delete without ``force``: younger ones may belong to
#: a write that has not committed yet.
MIN_OLDER_THAN = timedelta(hours=24)


def prefix_mismatch_hint(group: str | None, unreferenced: str = "orphans") -> Phrase:
    """How to choose a ``prefix_mismatch`` mode, in the caller's vocabulary."""
    return Phrase(
        "pass {} to keep such files (the same files under another URI) or {} to treat them "
        f"as {unreferenced} (different files that share a path); the default stops",
        Arg("prefix_mismatch", "ignore", group=group),
        Arg("prefix_mismatch", "delete", group=group),
    )


def check_prefix_mismatch(mode: str, *, group: str | None = "vacuum") -> None:
    """Raises `InvalidInput` unless ``mode`` is one of `PREFIX_MISMATCH_MODES`."""
    if mode not in PREFIX_MISMATCH_MODES:
        raise InvalidInput(
            Phrase(
                "{} is not one of " + ", ".join(PREFIX_MISMATCH_MODES),
                Arg("prefix_mismatch", mode, group=group),
            ),
            hint=prefix_mismatch_hint(group),
        )


def check_grace(
    older_than: str | int | timedelta, *, force: bool, writer: str, group: str | None
) -> timedelta:
    """``older_than`` parsed; under `MIN_OLDER_THAN` it needs ``force`` (raises `InvalidInput`).

    Args:
        writer: what a too-young file may belong to ("writes that have not committed yet").
        group: the run-config section of the setting (Dagster), e.g. ``vacuum``.
    """
    grace = parse_duration(older_than, name="older_than")
    if grace < MIN_OLDER_THAN and not force:
        raise InvalidInput(
            Phrase(
                "{} is under 24 hours: files of " + writer + " would look unreferenced and "
                "be deleted",
                Arg("older_than", format_duration(grace), group=group),
            ),
            hint=Phrase(
                "use {} or more (default 3d); pass {} only when no writer is active",
                Arg("older_than", "24h", group=group),
                Arg("force", True, group=group),
            ),
        )
    return grace
