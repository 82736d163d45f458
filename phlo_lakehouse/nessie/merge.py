"""Merging one Nessie reference onto a branch, with a dry run that reports conflicts.

pynessie 0.67 does not expose the merge flags ``isDryRun`` / ``isReturnConflictAsResult`` (the
v1 JSON names, not ``dryRun``: Nessie ignores unknown fields and would really merge), so the
request is posted through the boundary to pynessie's internals (`phlo_lakehouse._upstream`).

Example:
    >>> refs.merge("dev", onto="main", dry_run=True).conflicts   # doctest: +SKIP
    ('raw.events',)
"""

from __future__ import annotations

from typing import Any

from phlo_lakehouse.errors import InvalidInput, MergeConflict, RefNotFound
from phlo_lakehouse.nessie.diff import NessieDiff
from phlo_lakehouse.nessie.model import NO_ANCESTOR_HASH, MergeResult, NessieRef, key_text


class NessieMerge(NessieDiff):
    """Merges references (part of `NessieReferences`)."""

    def merge(
        self,
        from_ref: str,
        onto: str = "main",
        *,
        dry_run: bool = False,
        delete_source: bool = False,
        message: str | None = None,
    ) -> MergeResult:
        """Merge ``from_ref`` onto branch ``onto``; a dry run reports conflicts, changing nothing.

        Conflicts are tables changed on both sides since the common ancestor. A real merge with
        conflicts raises `Conflict` and leaves ``onto`` untouched (Nessie applies all or nothing).
        The source branch is kept unless ``delete_source``.

        Raises:
            RefNotFound: either reference does not exist.
            InvalidInput: ``onto`` is a tag, or the same reference as ``from_ref``.
            Conflict: (real merge) conflicting tables; nothing was merged.

        Example:
            >>> refs.merge("dev", onto="main", dry_run=True).conflicts   # doctest: +SKIP
            ('raw.events',)
        """
        from phlo_lakehouse._upstream.pynessie import post_merge

        source, target = self.get(from_ref), self.get(onto)
        if target.kind != "BRANCH" or source.name == target.name:
            raise InvalidInput(
                f"cannot merge {source.name!r} onto {target.name!r}",
                hint="merge a branch or tag onto a different branch",
            )
        if target.hash == NO_ANCESTOR_HASH:
            return self._merge_onto_empty(source, target, dry_run, delete_source)
        body: dict[str, Any] = {
            "fromRefName": source.name,
            "fromHash": source.hash,
            "isDryRun": bool(dry_run),
            "isReturnConflictAsResult": True,
        }
        if message:
            body["message"] = message
        client = self.client
        for attempt in (1, 2):
            try:
                response = self._call(
                    post_merge,
                    client,
                    target.name,
                    body,
                    target.hash,
                    missing_ref=f"{source.name} or {target.name}",
                )
                break
            except RefNotFound:
                # Nessie answers "not found" when an expected hash is no longer on the ref: if
                # both refs still exist, one moved under us; read them again and retry once.
                source, target = self.get(from_ref), self.get(onto)
                if attempt == 2:
                    raise
                body["fromHash"] = source.hash
        details = response.get("details") or []
        keys = tuple(sorted(key_text(d["key"]) for d in details))
        conflicts = tuple(
            sorted(key_text(d["key"]) for d in details if d.get("conflictType", "NONE") != "NONE")
        )
        applied = bool(response.get("wasApplied")) and not dry_run
        if not dry_run and (conflicts or not response.get("wasSuccessful", True)):
            shown = ", ".join(conflicts) or "unknown keys"
            raise MergeConflict(
                f"merging {source.name} onto {target.name} conflicts on {shown}; nothing merged",
                hint="both sides changed these tables since their common ancestor; "
                "merge(dry_run=True) lists them — resolve on the source branch and merge again",
            )
        return self._merged(
            source,
            target,
            applied=applied,
            dry_run=dry_run,
            delete_source=delete_source,
            target_hash_after=response.get("resultantTargetHash"),
            common_ancestor=response.get("commonAncestor"),
            keys=keys,
            conflicts=conflicts,
        )

    def _merge_onto_empty(
        self, source: NessieRef, target: NessieRef, dry_run: bool, delete_source: bool
    ) -> MergeResult:
        """Merging onto a branch with no commit: Nessie finds no common ancestor, but nothing
        can conflict either, so the merge is a fast-forward of the target to the source."""
        keys = tuple(c.table for c in self.diff(target.name, source.name))
        applied = False
        if not dry_run:
            self.assign(target.name, source.name, hash=source.hash, expected_hash=target.hash)
            applied = True
        return self._merged(
            source,
            target,
            applied=applied,
            dry_run=dry_run,
            delete_source=delete_source,
            target_hash_after=source.hash,
            common_ancestor=NO_ANCESTOR_HASH,
            keys=keys,
            conflicts=(),
        )

    def _merged(
        self,
        source: NessieRef,
        target: NessieRef,
        *,
        applied: bool,
        dry_run: bool,
        delete_source: bool,
        target_hash_after: str | None,
        common_ancestor: str | None,
        keys: tuple[str, ...],
        conflicts: tuple[str, ...],
    ) -> MergeResult:
        """The result of a merge of ``source`` onto ``target``, deleting the source branch
        first when asked and the merge was applied (``target_hash_after``: the target's head
        when applied)."""
        deleted = False
        if applied and delete_source and source.kind == "BRANCH":
            self.delete(source.name)
            deleted = True
        return MergeResult(
            source=source.name,
            target=target.name,
            source_hash=source.hash,
            target_hash_before=target.hash,
            target_hash_after=target_hash_after if applied else target.hash,
            common_ancestor=common_ancestor,
            keys=keys,
            conflicts=conflicts,
            dry_run=bool(dry_run),
            applied=applied,
            source_deleted=deleted,
        )
