"""The GC's scratch store: a SQLite file that holds the live set, the storage listing and the
candidates on disk, so a live set of millions of files needs megabytes of memory, not gigabytes.

SQLite keeps tables as B-trees in pages on disk and sorts externally when it builds an index
(``temp_store=FILE``), so the memory the store takes is its page cache (`CACHE_KIB`) whatever the
number of files. Paths go in unsorted while the live set is built; the index is built once,
and the sweep's anti-join (listed files with no live entry) runs inside SQLite.

Membership is exact: a file is a candidate only when no live entry has its normalized path
and prefix (scheme://authority). The store also records which metadata files, manifest lists and
manifests were read, so each is read once however many commits reference it.

Each store lives in a directory of its own (``phlo-gc-*``) holding an exclusive lock while it is
open; `remove_stale` deletes directories left by killed runs (their lock is free).

Example:
    >>> store = LiveSetStore.create("/tmp")                           # doctest: +SKIP
    >>> store.add_live(["s3://b/t/data/a.parquet"]); store.finish_live()   # doctest: +SKIP
    >>> store.live_count()                                             # doctest: +SKIP
    1
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from phlo_lakehouse.storage.listing import normalize_location

#: SQLite page cache per store, in KiB: the store's memory, whatever the number of files.
CACHE_KIB = 16 * 1024
BATCH = 10_000
_PREFIX = "phlo-gc-"
_SCHEMA = """
CREATE TABLE contents (metadata_location TEXT PRIMARY KEY, content_id TEXT NOT NULL,
                       key TEXT NOT NULL, snapshot_id INTEGER, live INTEGER NOT NULL);
CREATE TABLE read_files (path TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE live (path TEXT NOT NULL, prefix TEXT NOT NULL);
CREATE TABLE bases (location TEXT PRIMARY KEY, content_id TEXT NOT NULL, live INTEGER NOT NULL);
CREATE TABLE listed (uri TEXT NOT NULL, path TEXT NOT NULL, prefix TEXT NOT NULL,
                     size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE TABLE candidates (uri TEXT PRIMARY KEY, path TEXT NOT NULL, prefix TEXT NOT NULL,
                         size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE INDEX candidates_path ON candidates (prefix, path);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE commits (hash TEXT PRIMARY KEY, to_root_live INTEGER NOT NULL) WITHOUT ROWID;
"""


def split_location(uri: str) -> tuple[str, str]:
    """(normalized path, "scheme://authority") of ``uri``: what live and listed files are
    compared by.

    Example:
        >>> split_location("s3a://bucket/t//data/x.parquet")
        ('/t/data/x.parquet', 's3://bucket')
    """
    scheme, authority, path = normalize_location(uri)
    return path, f"{scheme}://{authority}"


class LiveSetStore:
    """One GC run's scratch store (see the module docstring).

    Use `create` (a new directory under a parent) and `close` (removes it unless ``keep``).
    """

    def __init__(self, directory: Path, lock: Any) -> None:
        self.directory = directory
        self._lock = lock
        # One transaction at a time, committed at phase ends: per-row autocommit would cost a
        # transaction per file. Nothing needs durability (a killed run starts over).
        self.db = sqlite3.connect(
            directory / "live-set.db", isolation_level="DEFERRED", check_same_thread=False
        )
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "temp_store=FILE",
            f"cache_size=-{CACHE_KIB}",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self._indexed = False

    @classmethod
    def create(cls, parent: str | os.PathLike[str] | None = None) -> LiveSetStore:
        """A new, empty store in a fresh ``phlo-gc-*`` directory under ``parent`` (default:
        the system temp directory); stale directories of killed runs there are removed first."""
        base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        remove_stale(base)
        directory = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=base))
        lock = open(directory / "lock", "w")
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        store = cls(directory, lock)
        store.db.executescript(_SCHEMA)
        return store

    def commit(self) -> None:
        """End the current transaction (a phase is done)."""
        self.db.commit()

    def close(self, *, keep: bool = False) -> None:
        """Close the database and (unless ``keep``) remove the store's directory."""
        self.db.commit()
        self.db.close()
        self._lock.close()
        if not keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- contents seen in commits ------------------------------------------------------------

    def add_content(
        self, metadata_location: str, content_id: str, key: str, snapshot_id: int | None, live: bool
    ) -> bool:
        """Record a table content; True when its metadata location is new, or was known only
        from commits past the cutoffs and is now live."""
        cursor = self.db.execute(
            "INSERT INTO contents VALUES (?, ?, ?, ?, ?) ON CONFLICT(metadata_location) "
            "DO UPDATE SET live = 1 WHERE excluded.live = 1 AND live = 0",
            (metadata_location, content_id, key, snapshot_id, int(live)),
        )
        return cursor.rowcount > 0

    def live_metadata(self) -> list[str]:
        """Metadata locations of live contents, sorted."""
        rows = self.db.execute("SELECT metadata_location FROM contents WHERE live = 1 ORDER BY 1")
        return [row[0] for row in rows]

    def expired_contents(self) -> dict[str, list[str]]:
        """Content ids with no live version → their metadata locations from commits past the
        cutoffs (newest first as recorded)."""
        rows = self.db.execute(
            "SELECT content_id, metadata_location FROM contents c WHERE live = 0 AND NOT EXISTS "
            "(SELECT 1 FROM contents l WHERE l.content_id = c.content_id AND l.live = 1) "
            "ORDER BY rowid"
        )
        found: dict[str, list[str]] = {}
        for content_id, location in rows:
            found.setdefault(content_id, []).append(location)
        return found

    def count_contents(self, *, live: bool) -> int:
        return self.db.execute(
            "SELECT COUNT(*) FROM contents WHERE live = ?", (int(live),)
        ).fetchone()[0]

    # -- commits walked -------------------------------------------------------------------------

    def walked(self, commit_hash: str) -> int | None:
        """None if no walk saw the commit; 1 if one did (so its whole ancestry was recorded);
        2 if a walk saw it and everything before it as live (a walk with cutoff NONE)."""
        row = self.db.execute(
            "SELECT to_root_live FROM commits WHERE hash = ?", (commit_hash,)
        ).fetchone()
        return None if row is None else 1 + int(row[0])

    def record_walked(self, hashes: Iterable[str], *, to_root_live: bool) -> None:
        """Mark commits as walked, once their walk has reached the root (or a walked commit)."""
        self.db.executemany(
            "INSERT INTO commits VALUES (?, ?) ON CONFLICT(hash) DO UPDATE SET to_root_live = "
            "MAX(to_root_live, excluded.to_root_live)",
            ((h, int(to_root_live)) for h in hashes),
        )

    # -- files read and live files ------------------------------------------------------------

    def first_read(self, path: str) -> bool:
        """True the first time ``path`` (a metadata file, manifest list or manifest) is asked
        about: read it then, and never again."""
        return self.db.execute("INSERT OR IGNORE INTO read_files VALUES (?)", (path,)).rowcount > 0

    def add_live(self, uris: Iterable[str]) -> None:
        """Add files to the live set (duplicates are fine)."""
        rows = (split_location(uri) for uri in uris)
        self.db.executemany("INSERT INTO live VALUES (?, ?)", rows)

    def finish_live(self) -> None:
        """Index the live set (one external sort); later additions keep the index up to date."""
        if not self._indexed:
            self.db.execute("CREATE INDEX IF NOT EXISTS live_path ON live (path, prefix)")
            self._indexed = True
        self.db.commit()

    def live_count(self) -> int:
        """Distinct live files."""
        sql = "SELECT COUNT(*) FROM (SELECT DISTINCT path, prefix FROM live)"
        return int(self.db.execute(sql).fetchone()[0])

    def is_live(self, uri: str) -> bool:
        """Exact membership of one file in the live set."""
        path, prefix = split_location(uri)
        row = self.db.execute(
            "SELECT 1 FROM live WHERE path = ? AND prefix = ? LIMIT 1", (path, prefix)
        ).fetchone()
        return row is not None

    # -- base locations ----------------------------------------------------------------------

    def add_base(self, location: str, content_id: str, *, live: bool) -> None:
        self.db.execute(
            "INSERT INTO bases VALUES (?, ?, ?) ON CONFLICT(location) DO UPDATE SET live = 1 "
            "WHERE excluded.live = 1",
            (location, content_id, int(live)),
        )

    def bases(self) -> list[tuple[str, bool]]:
        """(base location, True when a live content has it), sorted by location."""
        rows = self.db.execute("SELECT location, live FROM bases ORDER BY location")
        return [(location, bool(live)) for location, live in rows]

    def table_at(self, location: str) -> str | None:
        """The table key last seen with base ``location`` (live versions first)."""
        row = self.db.execute(
            "SELECT c.key FROM bases b JOIN contents c ON c.content_id = b.content_id "
            "WHERE b.location = ? ORDER BY c.live DESC, c.rowid LIMIT 1",
            (location,),
        ).fetchone()
        return row[0] if row else None

    def candidates_under(self, location: str) -> tuple[int, int]:
        """(count, bytes) of the candidates below ``location``."""
        path, prefix = split_location(location)
        low = path.rstrip("/") + "/"
        high = low[:-1] + chr(ord("/") + 1)
        count, size = self.db.execute(
            "SELECT COUNT(*), SUM(size) FROM candidates WHERE prefix = ? AND path >= ? "
            "AND path < ?",
            (prefix, low, high),
        ).fetchone()
        return int(count), int(size or 0)

    # -- listing and candidates ----------------------------------------------------------------

    def add_listed(self, files: Iterable[tuple[str, int, int]]) -> int:
        """Record listed files as (uri, size, mtime_ns); returns how many."""
        count = 0

        def rows() -> Iterator[tuple[str, str, str, int, int]]:
            nonlocal count
            for uri, size, mtime_ns in files:
                count += 1
                path, prefix = split_location(uri)
                yield uri, path, prefix, size, mtime_ns

        self.db.executemany("INSERT INTO listed VALUES (?, ?, ?, ?, ?)", rows())
        return count

    def classify(self, cutoff_ns: int) -> dict[str, int]:
        """Fill the candidates: listed files no live entry has (by path and prefix), modified
        before ``cutoff_ns``. Returns counts: unreachable, too young, prefix mismatches."""
        self.finish_live()
        self.db.execute("DELETE FROM candidates")
        self.db.execute(
            "CREATE TEMP TABLE unreachable AS SELECT DISTINCT l.uri, l.path, l.prefix, l.size, "
            "l.mtime_ns FROM listed l WHERE NOT EXISTS (SELECT 1 FROM live v "
            "WHERE v.path = l.path AND v.prefix = l.prefix)"
        )
        try:
            figures = {
                "unreachable": self._count("SELECT COUNT(*) FROM temp.unreachable"),
                "young": self._count(
                    "SELECT COUNT(*) FROM temp.unreachable WHERE mtime_ns >= ?", cutoff_ns
                ),
                "prefix_mismatches": self._count(
                    "SELECT COUNT(*) FROM temp.unreachable u WHERE EXISTS "
                    "(SELECT 1 FROM live v WHERE v.path = u.path)"
                ),
            }
            self.db.execute(
                "INSERT OR IGNORE INTO candidates SELECT uri, path, prefix, size, mtime_ns "
                "FROM temp.unreachable WHERE mtime_ns < ?",
                (cutoff_ns,),
            )
        finally:
            self.db.execute("DROP TABLE temp.unreachable")
        return figures

    def prefix_mismatches(self, limit: int = 1) -> list[tuple[str, str]]:
        """(listed candidate, a live file with the same path under another prefix)."""
        rows = self.db.execute(
            "SELECT c.uri, v.prefix || v.path FROM candidates c "
            "JOIN live v ON v.path = c.path AND v.prefix != c.prefix ORDER BY c.uri LIMIT ?",
            (limit,),
        )
        return [(row[0], row[1]) for row in rows]

    def drop_prefix_mismatches(self) -> int:
        """Keep candidates that share a path with a live file under another prefix."""
        return self.db.execute(
            "DELETE FROM candidates WHERE EXISTS (SELECT 1 FROM live v "
            "WHERE v.path = candidates.path AND v.prefix != candidates.prefix)"
        ).rowcount

    def drop_live_candidates(self) -> int:
        """Remove candidates that are live now (after the live set grew); returns how many."""
        self.finish_live()
        return self.db.execute(
            "DELETE FROM candidates WHERE EXISTS (SELECT 1 FROM live v "
            "WHERE v.path = candidates.path AND v.prefix = candidates.prefix)"
        ).rowcount

    def add_candidates(self, rows: Iterable[tuple[str, int, int]]) -> None:
        """Candidates from elsewhere (a deferred file), as (uri, size, mtime_ns)."""
        self.db.executemany(
            "INSERT OR IGNORE INTO candidates VALUES (?, ?, ?, ?, ?)",
            ((uri, *split_location(uri), size, mtime) for uri, size, mtime in rows),
        )

    def candidates(self, batch: int = BATCH) -> Iterator[list[tuple[str, int, int]]]:
        """Candidates (uri, size, mtime_ns) in batches, sorted by uri; metadata.json files last,
        so a run killed while deleting still finds the base locations of dropped tables."""
        cursor = self.db.execute(
            "SELECT uri, size, mtime_ns FROM candidates ORDER BY uri LIKE '%.metadata.json', uri"
        )
        while rows := cursor.fetchmany(batch):
            yield rows

    def size_of(self, uri: str) -> int:
        """The size of candidate ``uri`` (0 if it is none)."""
        row = self.db.execute("SELECT size FROM candidates WHERE uri = ?", (uri,)).fetchone()
        return int(row[0]) if row else 0

    def candidate_totals(self) -> tuple[int, int]:
        """(count, bytes) of the candidates."""
        count, size = self.db.execute("SELECT COUNT(*), SUM(size) FROM candidates").fetchone()
        return int(count), int(size or 0)

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _count(self, sql: str, *args: Any) -> int:
        return int(self.db.execute(sql, args).fetchone()[0])


def remove_stale(parent: Path) -> list[Path]:
    """Remove ``phlo-gc-*`` store directories under ``parent`` whose lock no process holds
    (left by runs that were killed); returns what was removed."""
    removed = []
    for directory in parent.glob(f"{_PREFIX}*"):
        lock_path = directory / "lock"
        if not directory.is_dir() or not lock_path.exists():
            continue
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running GC holds it
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed
