"""Deferred deletes: a GC run writes its candidates to a file for review instead of deleting
them (Nessie GC's ``--defer-deletes``); `DeferredApply` deletes them in a second, explicit step.

The file is JSON Lines: a header line (what catalog, which cutoffs, the references and base
locations the run saw, its figures), then one line per candidate ``{"uri", "size", "modified"}``.
Reviewers may delete lines to keep those files; nothing else in the file is trusted blindly:

- every candidate must lie inside one of the header's base locations, or nothing is deleted;
- the live set is built again, with the run's cutoffs (their instants as resolved then) over the
  references as they are now, and every candidate that has become live since (a branch moved
  back to an old commit, a tag created on one) is kept.

Example:
    >>> apply = DeferredApply(NessieGC(lakehouse), Path("gc-candidates.jsonl"))   # doctest: +SKIP
    >>> apply.prepare()["became_live"], apply.delete()[0]["deleted"]             # doctest: +SKIP
    (2, 40)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput
from phlo_lakehouse.gc.cutoff import CutoffRules, compile_ref_regex
from phlo_lakehouse.gc.store import LiveSetStore
from phlo_lakehouse.storage.listing import normalize_location

if TYPE_CHECKING:
    from phlo_lakehouse.config import CatalogSettings
    from phlo_lakehouse.gc.collector import GCPlan, NessieGC

FORMAT = "phlo-lakehouse/nessie-gc-deferred/1"
_BATCH = 10_000


def write_deferred(path: str | os.PathLike[str], plan: GCPlan, catalog: CatalogSettings) -> Path:
    """Write the plan's candidates to ``path`` (atomically: a temp file renamed into place).

    Raises:
        InvalidInput: ``path`` is a directory or its directory does not exist.
    """
    target = Path(path)
    if target.is_dir():
        raise InvalidInput(
            f"defer file {target} is a directory", hint="name a file, e.g. gc-candidates.jsonl"
        )
    if not target.parent.is_dir():
        raise InvalidInput(
            f"the directory of defer file {target} does not exist",
            hint="create the directory first or name a file in an existing one",
        )
    header = {
        "format": FORMAT,
        "catalog": {"uri": catalog.uri, "warehouse": catalog.warehouse},
        "created_at": plan.created_at.isoformat(),
        "delete_before": plan.delete_before.isoformat(),
        "ref_regex": plan.settings.ref_regex,
        "cutoffs": plan.rules.to_dict(),
        "refs": {name: {"kind": kind, "hash": h} for name, (kind, h) in sorted(plan.refs.items())},
        "base_locations": plan.bases,
        "figures": plan.figures,
    }
    temporary = target.with_name(f".{target.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(json.dumps(header, sort_keys=True) + "\n")
        for rows in plan.store.candidates():
            for uri, size, mtime_ns in rows:
                modified = datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC).isoformat()
                out.write(json.dumps({"uri": uri, "size": size, "modified": modified}) + "\n")
    os.replace(temporary, target)
    return target


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header line of a deferred file.

    Raises:
        InvalidInput: missing file, or not a deferred file of this format.
    """
    source = Path(path)
    if not source.is_file():
        raise InvalidInput(
            f"deferred file {source} does not exist",
            hint="pass the file `phlo-lakehouse gc --defer FILE` wrote",
        )
    with open(source, encoding="utf-8") as lines:
        first = lines.readline()
    try:
        header = json.loads(first)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(
            f"{source} is not a deferred GC file (line 1 is not a {FORMAT} header)",
            hint="pass the file `phlo-lakehouse gc --defer FILE` wrote",
        )
    return header


def read_candidates(
    path: str | os.PathLike[str], bases: list[str]
) -> Iterator[list[tuple[str, int, int]]]:
    """Batches of (uri, size, mtime_ns) from the file, each checked to lie inside ``bases``.

    Raises:
        InvalidInput: a malformed line, or a candidate outside every base location.
    """
    roots = [normalize_location(b) for b in bases]
    batch: list[tuple[str, int, int]] = []
    with open(path, encoding="utf-8") as lines:
        next(lines)
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                uri, size = str(entry["uri"]), int(entry.get("size") or 0)
                modified = datetime.fromisoformat(str(entry["modified"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise InvalidInput(
                    f"{path} line {number} is not a candidate entry",
                    hint='each line after the header is {"uri": …, "size": …, "modified": …}; '
                    "delete lines to keep files, do not edit them",
                ) from None
            if not _inside_any(uri, roots):
                raise InvalidInput(
                    f"{path} line {number}: {uri} is outside every base location the GC listed",
                    hint="nothing was deleted; only files the GC run found may be in the file",
                )
            batch.append((uri, size, int(modified.timestamp() * 1_000_000) * 1000))
            if len(batch) >= _BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _inside_any(uri: str, roots: list[tuple[str, str, str]]) -> bool:
    scheme, authority, path = normalize_location(uri)
    return any(
        (scheme, authority) == root[:2] and path.startswith(root[2].rstrip("/") + "/")
        for root in roots
    )


@dataclass
class DeferredApply:
    """Applying one deferred file: `prepare` checks it and builds the live set again (reads
    only); `delete` deletes what is still a candidate. `close` drops the scratch store."""

    gc: NessieGC
    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    store: LiveSetStore | None = None
    figures: dict[str, int] = field(default_factory=dict)

    def prepare(self) -> dict[str, int]:
        """Read and check the file, build the live set again, drop candidates live again.

        Raises:
            InvalidInput: the file is malformed, was written for another catalog, or lists a
                file outside its base locations (nothing is deleted then).
        """
        from phlo_lakehouse.gc.mark import LiveSetBuilder

        gc = self.gc
        self.header = read_header(self.path)
        catalog = self.header.get("catalog") or {}
        if catalog.get("uri") != gc.lakehouse.settings.uri:
            raise InvalidInput(
                f"{self.path} was written for the Nessie catalog at {catalog.get('uri')}, not "
                f"{gc.lakehouse.settings.uri}",
                hint="apply a deferred file with the catalog settings the GC run used",
            )
        self.store = store = LiveSetStore.create(gc.settings.work_dir)
        for batch in read_candidates(self.path, list(self.header.get("base_locations") or [])):
            store.add_candidates(batch)
        store.commit()
        listed, listed_bytes = store.candidate_totals()
        builder = LiveSetBuilder(
            gc.history,
            gc.io,
            store,
            CutoffRules.from_dict(self.header["cutoffs"]),
            compile_ref_regex(str(self.header.get("ref_regex") or ".*")),
            threads=gc.settings.threads,
        )
        gc.history.check()
        builder.walk(gc.history.references())
        builder.expand()
        became_live = store.drop_live_candidates()
        store.commit()
        count, size = store.candidate_totals()
        self.figures = {
            "refs_walked": len(builder.counts.walks),
            "commits_walked": builder.counts.commits,
            "metadata_files": builder.counts.metadata_files,
            "live_files": store.live_count(),
            "candidates": listed,
            "candidate_bytes": listed_bytes,
            "became_live": became_live,
            "files_to_delete": count,
            "bytes_to_delete": size,
            "deleted": 0,
            "deleted_bytes": 0,
            "delete_failures": 0,
        }
        return dict(self.figures)

    def delete(self) -> tuple[dict[str, int], dict[str, str]]:
        """Delete the remaining candidates; (figures, failures URI -> reason)."""
        from phlo_lakehouse.gc.sweep import delete_in_batches

        assert self.store is not None, "prepare() first"
        outcome = delete_in_batches(self.store, self.gc.io, threads=self.gc.settings.threads)
        figures = dict(self.figures)
        figures.update(
            deleted=outcome.deleted,
            deleted_bytes=outcome.deleted_bytes,
            delete_failures=len(outcome.failed),
        )
        return figures, outcome.failed

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
