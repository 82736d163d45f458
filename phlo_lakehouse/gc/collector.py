"""`NessieGC`: Nessie garbage collection end to end — mark, list, classify, then delete or defer.

1. **Mark** (`phlo_lakehouse.gc.mark`): walk every reference to its cutoff and build the live
   set of every file a live commit needs. The time the mark starts is the live set's creation
   time.
2. **List** every table base location (`phlo_lakehouse.gc.sweep`), page by page into the store.
3. **Classify**: candidates are listed files outside the live set and last modified before the
   grace cutoff, ``creation time - older_than`` (default 3 days, at least 24 hours unless
   ``force``): a file written by a commit still in flight is younger than that. A listed file
   whose path matches a live file under another scheme or bucket is a prefix mismatch: an error
   unless ``prefix_mismatch`` says "ignore" (keep it) or "delete".
4. **Check again, then delete**: right before deleting, the references are listed again; each
   one that moved or appeared is walked again, and any candidate its new commits made live is
   kept. Then the candidates are deleted in batches, or (``defer``) written to a file for review
   and deleted later by `apply_deferred`.

Everything up to step 4 only reads: a bad input, an unreadable live metadata file or a location
the credentials cannot list fails the run before anything is deleted.

Example:
    >>> gc = NessieGC(lakehouse, GCSettings(cutoffs=("P10D",)))      # doctest: +SKIP
    >>> plan = gc.plan()                                              # doctest: +SKIP
    >>> plan.figures["candidates"], gc.execute(plan).figures["deleted"]  # doctest: +SKIP
    (42, 42)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import InvalidInput, OperationFailed, RefNotFound
from phlo_lakehouse.gc.cutoff import CutoffRules, compile_ref_regex
from phlo_lakehouse.gc.history import NessieHistory
from phlo_lakehouse.gc.mark import LiveSetBuilder
from phlo_lakehouse.gc.settings import FIGURE_KEYS, SHOWN_CANDIDATES, GCSettings
from phlo_lakehouse.gc.store import LiveSetStore
from phlo_lakehouse.gc.sweep import delete_in_batches, list_bases, sweep_roots
from phlo_lakehouse.operations.orphans import prefix_mismatch_hint

if TYPE_CHECKING:
    from pyiceberg.io import FileIO

    from phlo_lakehouse.lakehouse import IcebergLakehouse

log = logging.getLogger(__name__)


@dataclass
class GCPlan:
    """What a GC run found; holds its scratch store until `NessieGC.execute` or `close`.

    Attributes:
        figures: counts and sizes (`FIGURE_KEYS`).
        refs: reference name -> (kind, head hash) as walked.
        walks: per reference: policy, commits, live commits.
        created_at: the live set's creation time (the mark's start).
        delete_before: the grace cutoff: only files modified before it are candidates.
        rules: the cutoff rules with durations resolved against ``created_at``.
        bases: base locations listed; skipped: locations never swept (bucket roots).
        store: the scratch store (live set, listing, candidates).
    """

    figures: dict[str, int]
    refs: dict[str, tuple[str, str]]
    walks: list[dict[str, Any]]
    created_at: datetime
    delete_before: datetime
    rules: CutoffRules
    bases: list[str]
    skipped: list[str]
    store: LiveSetStore
    settings: GCSettings
    sample: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Drop the scratch store."""
        self.store.close()

    def per_table(self) -> list[dict[str, Any]]:
        """Candidates (count, bytes) under each swept table location that has any, with the
        table key last seen there: what Dagster reports on each table's asset."""
        found = []
        for location in sweep_roots(self.bases)[0]:
            count, size = self.store.candidates_under(location)
            if count:
                table = self.store.table_at(location)
                found.append({"table": table, "location": location, "files": count, "bytes": size})
        return found

    def details(self) -> dict[str, Any]:
        """JSON-ready details for plans and results."""
        return {
            "tables": self.per_table(),
            "created_at": self.created_at.isoformat(),
            "delete_before": self.delete_before.isoformat(),
            "cutoffs": self.rules.to_dict(),
            "refs": [{"name": n, "kind": k, "hash": h} for n, (k, h) in sorted(self.refs.items())],
            "walks": self.walks,
            "base_locations": self.bases,
            "never_swept": self.skipped,
            "candidate_files": self.sample,
            "candidate_files_shown": len(self.sample),
        }


class NessieGC:
    """Runs Nessie garbage collection on a Nessie lakehouse (see the module docstring).

    Args:
        lakehouse: an `IcebergLakehouse` on a Nessie catalog.
        settings: the run's `GCSettings`.

    Raises:
        InvalidInput: the lakehouse is not a Nessie catalog.
    """

    def __init__(self, lakehouse: IcebergLakehouse, settings: GCSettings | None = None) -> None:
        if not getattr(lakehouse, "is_nessie", False):
            describe = getattr(getattr(lakehouse, "settings", None), "describe", lambda: "catalog")
            raise InvalidInput(
                f"Nessie GC needs a Nessie catalog, not the {describe()}",
                hint="use vacuum and expire on other catalogs; point the catalog at Nessie "
                "(NESSIE_HOST/NESSIE_PORT or --catalog-type nessie) for gc",
            )
        self.lakehouse = lakehouse
        self.settings = settings or GCSettings()
        self.history = NessieHistory(lakehouse.settings.uri or "")
        self._io: FileIO | None = None
        self._properties: dict[str, str] | None = None

    @property
    def properties(self) -> dict[str, str]:
        """The catalog's FileIO properties (storage endpoint and credentials)."""
        if self._properties is None:
            catalog = self.lakehouse.catalog(self.lakehouse.settings.default_ref)
            self._properties = {k: v for k, v in catalog.properties.items() if isinstance(v, str)}
        return self._properties

    @property
    def io(self) -> FileIO:
        if self._io is None:
            from pyiceberg.io import load_file_io

            self._io = load_file_io(dict(self.properties))
        return self._io

    # -- plan ----------------------------------------------------------------------------------

    def plan(self) -> GCPlan:
        """Mark, list and classify; deletes nothing. The plan holds its store: pass it to
        `execute`, or `GCPlan.close` it.

        Raises:
            NotFound: ``ref_regex`` selects no reference.
            OperationFailed: a live metadata file cannot be read, a location cannot be listed,
                or (``prefix_mismatch="error"``) a prefix mismatch.
        """
        settings = self.settings
        self.history.check()
        refs = self.history.references()
        selected = compile_ref_regex(settings.ref_regex)
        if not any(selected.fullmatch(r.name) for r in refs):
            shown = ", ".join(r.name for r in refs[:5]) + (" …" if len(refs) > 5 else "")
            raise RefNotFound(
                f"ref_regex {settings.ref_regex!r} matches no Nessie reference "
                f"(references: {shown or 'none'})",
                hint="the regular expression must match whole names, e.g. 'main|dev-.*'",
            )
        created_at = settings.now or datetime.now(UTC)
        rules = CutoffRules.parse(settings.cutoffs, reference_time=created_at)
        store = LiveSetStore.create(settings.work_dir)
        try:
            return self._plan(store, refs, selected, rules, created_at)
        except BaseException:
            store.close()
            raise

    def _plan(
        self,
        store: LiveSetStore,
        refs: Sequence[Any],
        selected: Any,
        rules: CutoffRules,
        created_at: datetime,
    ) -> GCPlan:
        settings = self.settings
        started = time.perf_counter()
        builder = LiveSetBuilder(
            self.history, self.io, store, rules, selected, threads=settings.threads
        )
        builder.walk(refs)
        builder.expand()
        builder.find_expired_bases()
        store.finish_live()
        log.info("live set built in %.1fs", time.perf_counter() - started)
        bases = [location for location, _ in store.bases()]
        listed, skipped = list_bases(store, bases, self.properties, threads=settings.threads)
        delete_before = created_at - settings.grace
        cutoff_ns = int(delete_before.timestamp() * 1_000_000) * 1000
        classified = store.classify(cutoff_ns)
        self._check_prefix_mismatches(store, classified["prefix_mismatches"])
        store.commit()
        count, size = store.candidate_totals()
        counts = builder.counts
        figures = dict.fromkeys(FIGURE_KEYS, 0)
        figures.update(
            refs_walked=len(counts.walks),
            commits_walked=counts.commits,
            live_commits=counts.live_commits,
            live_contents=store.count_contents(live=True),
            metadata_files=counts.metadata_files,
            manifests_read=counts.manifests,
            live_files=store.live_count(),
            base_locations=len(bases),
            expired_tables=counts.expired_tables,
            files_listed=listed,
            too_young=classified["young"],
            prefix_mismatches=classified["prefix_mismatches"],
            candidates=count,
            candidate_bytes=size,
        )
        sample = [uri for rows in store.candidates(SHOWN_CANDIDATES) for uri, _, _ in rows]
        return GCPlan(
            figures=figures,
            refs={r.name: (r.kind, r.hash) for r in refs},
            walks=[asdict(w) for w in counts.walks],
            created_at=created_at,
            delete_before=delete_before,
            rules=rules,
            bases=bases,
            skipped=skipped,
            store=store,
            settings=settings,
            sample=sample[:SHOWN_CANDIDATES],
        )

    def _check_prefix_mismatches(self, store: LiveSetStore, count: int) -> None:
        mode = self.settings.prefix_mismatch
        if not count or mode == "delete":
            return
        if mode == "ignore":
            store.drop_prefix_mismatches()
            return
        examples = store.prefix_mismatches(1)
        example = f", e.g. {examples[0][0]} vs live {examples[0][1]}" if examples else ""
        raise OperationFailed(
            f"{count} listed file(s) match live files by path only (scheme or bucket "
            f"differ){example}; nothing was deleted",
            hint=prefix_mismatch_hint(None, "unreferenced"),
        )

    # -- execute -------------------------------------------------------------------------------

    def recheck(self, plan: GCPlan) -> int:
        """Walk again every reference that moved or appeared since the plan; keep the candidates
        its new commits made live. Returns how many candidates became live."""
        moved = [
            ref
            for ref in self.history.references()
            if plan.refs.get(ref.name, ("", ""))[1] != ref.hash
        ]
        if not moved:
            return 0
        builder = LiveSetBuilder(
            self.history,
            self.io,
            plan.store,
            plan.rules,
            compile_ref_regex(self.settings.ref_regex),
            threads=self.settings.threads,
        )
        builder.walk(moved)
        builder.expand()
        became_live = plan.store.drop_live_candidates()
        plan.store.commit()
        log.info(
            "%d reference(s) moved during the GC; %d candidate(s) became live",
            len(moved),
            became_live,
        )
        return became_live

    def execute(self, plan: GCPlan, *, defer: str | Path | None = None) -> dict[str, Any]:
        """Check again, then delete the plan's candidates (or, with ``defer``, write them to
        that file). Returns the figures; closes the plan's store.

        Returns:
            ``{"figures": …, "failures": {uri: reason}, "deferred_file": path or None,
            "tables": [{"table", "location", "files", "bytes"}, …]}`` (``tables``: what was
            deleted, or deferred, under each table location).
        """
        try:
            figures = dict(plan.figures)
            figures["became_live"] = self.recheck(plan)
            count, size = plan.store.candidate_totals()
            figures["candidates"], figures["candidate_bytes"] = count, size
            tables = plan.per_table()
            if defer is not None:
                from phlo_lakehouse.gc.deferred import write_deferred

                path = write_deferred(defer, plan, self.lakehouse.settings)
                figures["deferred"] = count
                return {
                    "figures": figures, "failures": {}, "deferred_file": str(path),
                    "tables": tables,
                }  # fmt: skip
            outcome = delete_in_batches(plan.store, self.io, threads=self.settings.threads)
            figures.update(
                deleted=outcome.deleted,
                deleted_bytes=outcome.deleted_bytes,
                delete_failures=len(outcome.failed),
            )
            for entry in tables:
                base = entry["location"].rstrip("/") + "/"
                failed = [uri for uri in outcome.failed if uri.startswith(base)]
                entry["files"] -= len(failed)
                entry["bytes"] -= sum(plan.store.size_of(uri) for uri in failed)
            return {
                "figures": figures, "failures": outcome.failed, "deferred_file": None,
                "tables": tables,
            }  # fmt: skip
        finally:
            plan.close()
