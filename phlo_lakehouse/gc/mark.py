"""The mark phase: which files any live Nessie commit needs.

**Walk.** Each named reference's log is walked from its head (as listed when the walk starts),
newest first. Its cutoff policy decides which commits are live; the head always is. Every table a
live commit puts is live content, and where the walk reaches its first commit past the cutoff, the
whole state of the last live commit (every table in it, also ones last changed long before) is
live content too — Nessie GC's rule. The walk goes on to the root, recording the tables that
commits past the cutoffs put, so that tables with no live version left (dropped everywhere long
ago) are found and their storage swept too (Nessie GC leaves those). References that the
``ref_regex`` does not select are walked with cutoff ``NONE``: nothing they reach is ever deleted.
A walk stops early at a commit an earlier walk already covered as far as this one needs.

**Expand.** Every live table metadata file is read once and contributes itself, its metadata
log, its statistics and partition-statistics files, and for every snapshot in it, the manifest
list, its manifests and their live data and delete files. Each metadata file, manifest list and
manifest is read once however many commits reference it (the store remembers what was read),
several at a time. A live file that cannot be read stops the GC: what it references is unknown,
so nothing may be deleted.

Example:
    >>> builder = LiveSetBuilder(history, io, store, rules, selected)   # doctest: +SKIP
    >>> walks = builder.walk(history.references())                      # doctest: +SKIP
    >>> builder.expand(); builder.find_expired_bases()                  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from phlo_lakehouse._upstream.avro_manifests import manifest_content_paths, manifest_list_paths
from phlo_lakehouse.errors import OperationFailed
from phlo_lakehouse.gc.cutoff import NONE, CutoffPolicy, CutoffRules
from phlo_lakehouse.storage.reads import read_bytes

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

    from phlo_lakehouse.gc.history import NessieHistory, NessieReference, TableContent
    from phlo_lakehouse.gc.store import LiveSetStore

log = logging.getLogger(__name__)
READ_THREADS = 8
_WALK_BATCH = 500


@dataclass(frozen=True)
class RefWalk:
    """How one reference was walked."""

    name: str
    kind: str
    hash: str
    policy: str
    commits: int
    live_commits: int


@dataclass
class MarkCounts:
    """What the mark phase read."""

    commits: int = 0
    live_commits: int = 0
    metadata_files: int = 0
    manifest_lists: int = 0
    manifests: int = 0
    expired_tables: int = 0
    walks: list[RefWalk] = field(default_factory=list)


class LiveSetBuilder:
    """Builds the live set of one GC run into a `LiveSetStore` (see the module docstring).

    Args:
        history: the Nessie API v2 reader.
        io: a FileIO that can read every table's metadata (the catalog's credentials).
        store: where contents, read files, live files and base locations go.
        rules: the cutoff policies.
        selected: references this GC collects garbage for; others are walked with ``NONE``.
        threads: metadata files read at the same time.
    """

    def __init__(
        self,
        history: NessieHistory,
        io: FileIO,
        store: LiveSetStore,
        rules: CutoffRules,
        selected: re.Pattern[str],
        *,
        threads: int = READ_THREADS,
    ) -> None:
        self.history = history
        self.io = io
        self.store = store
        self.rules = rules
        self.selected = selected
        self.threads = max(1, threads)
        self.counts = MarkCounts()

    def policy_for(self, ref: str) -> CutoffPolicy:
        """The cutoff of ``ref``: its rule if the GC selects it, else ``NONE``."""
        return self.rules.policy_for(ref) if self.selected.fullmatch(ref) else NONE

    # -- walk ----------------------------------------------------------------------------------

    def walk(self, refs: Sequence[NessieReference]) -> list[RefWalk]:
        """Walk every reference in ``refs`` (NONE-policy ones first: later walks stop sooner)."""
        ordered = sorted(refs, key=lambda r: (self.policy_for(r.name).kind != "none", r.name))
        for ref in ordered:
            self.counts.walks.append(self._walk(ref))
        return self.counts.walks

    def _walk(self, ref: NessieReference) -> RefWalk:
        policy = self.policy_for(ref.name)
        to_root_live = policy.kind == "none"
        position = live = 0
        last_live: str | None = None
        past_cutoff = False
        seen: list[str] = []
        for entry in self.history.commit_log(ref):
            covered = self.store.walked(entry.hash)
            if covered == 2 or (past_cutoff and covered == 1):
                break  # an earlier walk recorded everything from here on, as live as needed
            position += 1
            if not past_cutoff and policy.is_live(position, entry.commit_time):
                live += 1
                last_live = entry.hash
                for put in entry.puts:
                    self._content(put, live=True)
            else:
                if not past_cutoff:
                    past_cutoff = True
                    assert last_live is not None  # the head is always live
                    for content in self.history.tables_at(last_live):
                        self._content(content, live=True)
                for put in entry.puts:
                    self._content(put, live=False)
            seen.append(entry.hash)
            if len(seen) >= _WALK_BATCH:
                self.store.record_walked(seen, to_root_live=to_root_live)
                seen.clear()
        self.store.record_walked(seen, to_root_live=to_root_live)
        self.counts.commits += position
        self.counts.live_commits += live
        log.info(
            "walked %s %s: %d commits, %d live (%s)", ref.kind, ref.name, position, live, policy
        )
        return RefWalk(ref.name, ref.kind, ref.hash, str(policy), position, live)

    def _content(self, content: TableContent, *, live: bool) -> None:
        self.store.add_content(
            content.metadata_location, content.content_id, content.key, content.snapshot_id, live
        )

    # -- expand --------------------------------------------------------------------------------

    def expand(self) -> None:
        """Read every live metadata file not read yet, its manifest lists and manifests, and
        add what they reference to the live set."""
        rows = self.store.db.execute(
            "SELECT metadata_location, content_id, key FROM contents WHERE live = 1"
        )
        source = (
            (self._read_metadata, tuple(row)) for row in rows if self.store.first_read(row[0])
        )
        tasks: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            pending: dict[Future[Any], tuple[Callable[..., Any], tuple[Any, ...]]] = {}
            while True:
                while len(pending) < self.threads * 2:
                    task = tasks.popleft() if tasks else next(source, None)
                    if task is None:
                        break
                    pending[pool.submit(task[0], *task[1])] = task
                if not pending:
                    return
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in done:
                    fn, args = pending.pop(future)
                    tasks.extend(self._handle(fn, args, future))

    def _handle(
        self, fn: Callable[..., Any], args: tuple[Any, ...], future: Future[Any]
    ) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        try:
            result = future.result()
        except Exception as e:
            raise _unreadable(args[0], args[2] if len(args) > 2 else None, e) from e
        if fn == self._read_metadata:
            base, files, manifest_lists = result
            self.counts.metadata_files += 1
            self.store.add_base(base, args[1], live=True)
            self.store.add_live(files)
            fresh = [path for path in manifest_lists if self.store.first_read(path)]
            self.store.add_live(fresh)
            return [(self._read_manifest_list, (path,)) for path in fresh]
        if fn == self._read_manifest_list:
            self.counts.manifest_lists += 1
            fresh = [path for path in result if self.store.first_read(path)]
            self.store.add_live(fresh)
            return [(self._read_manifest, (path,)) for path in fresh]
        self.counts.manifests += 1
        self.store.add_live(result)
        return []

    def _read_metadata(
        self, location: str, content_id: str = "", key: str = ""
    ) -> tuple[str, list[str], list[str]]:
        """(table location, files the metadata names directly, manifest lists)."""
        from pyiceberg.serializers import FromInputFile

        metadata = FromInputFile.table_metadata(self.io.new_input(location))
        files = [location, *(entry.metadata_file for entry in metadata.metadata_log)]
        files += [s.statistics_path for s in metadata.statistics]
        files += [s.statistics_path for s in metadata.partition_statistics]
        manifest_lists = [s.manifest_list for s in metadata.snapshots if s.manifest_list]
        return metadata.location, files, manifest_lists

    def _read_manifest_list(self, path: str) -> list[str]:
        return manifest_list_paths(self.io, path, read=self._read_bytes)

    def _read_manifest(self, path: str) -> list[str]:
        entries = manifest_content_paths(self.io, path, read=self._read_bytes)
        return [file_path for file_path, _ in entries]

    def _read_bytes(self, path: str) -> bytes:
        """A manifest or manifest list, whole: one GET on S3 (`storage.reads`)."""
        return read_bytes(self.io, path)

    # -- tables with no live version -------------------------------------------------------------

    def find_expired_bases(self) -> int:
        """Record the base location of every table with no live version left, read from its
        newest readable metadata file; returns how many tables were found."""
        from pyiceberg.serializers import FromInputFile

        def location_of(candidates: list[str]) -> str | None:
            for location in candidates:
                try:
                    return FromInputFile.table_metadata(self.io.new_input(location)).location
                except (FileNotFoundError, OSError, ValueError):
                    continue  # swept already, or never written: try an older one
            return None

        expired = self.store.expired_contents()
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            bases = list(pool.map(location_of, expired.values()))
        found = 0
        for content_id, base in zip(expired, bases, strict=True):
            if base is not None:
                self.store.add_base(base, content_id, live=False)
                found += 1
        self.counts.expired_tables = found
        return found


def _unreadable(path: str, key: str | None, error: Exception) -> OperationFailed:
    what = f" of table {key}" if key else ""
    return OperationFailed(
        f"cannot read {path}{what}, which a live commit needs: "
        f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}",
        hint="nothing was deleted; the files it references are unknown, so the GC stops. "
        "Restore the file, or drop the commits that reference it, and run the GC again",
    )
