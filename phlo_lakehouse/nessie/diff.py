"""Comparing two Nessie references with Nessie's diff API.

Example:
    >>> refs.diff("main", "dev")[0].change                       # doctest: +SKIP
    'modified'
"""

from __future__ import annotations

from phlo_lakehouse.errors import Conflict
from phlo_lakehouse.nessie.connection import NessieConnection
from phlo_lakehouse.nessie.model import (
    TABLE_TYPES,
    TableChange,
    check_hash,
    content_type,
    snapshot_of,
)


class NessieDiff(NessieConnection):
    """Tables whose content differs between references (part of `NessieReferences`)."""

    def diff(
        self,
        from_ref: str,
        to_ref: str,
        *,
        from_hash: str | None = None,
        to_hash: str | None = None,
    ) -> list[TableChange]:
        """Tables (and views) whose content differs between two references, sorted by name.

        "added" means present on ``to_ref`` only, "removed" on ``from_ref`` only.

        Example:
            >>> refs.diff("main", "dev")[0].change                       # doctest: +SKIP
            'modified'
        """
        check_hash(from_hash)
        check_hash(to_hash)
        self.get(from_ref)
        self.get(to_ref)
        response = self._call(self.client.get_diff, from_ref, to_ref, from_hash, to_hash)
        changes = []
        for entry in response.diffs:
            before, after = entry.from_content, entry.to_content
            kind = content_type(after if after is not None else before)
            if kind not in TABLE_TYPES:
                continue  # namespaces
            change = "added" if before is None else "removed" if after is None else "modified"
            changes.append(
                TableChange(
                    table=entry.content_key.to_path_string(),
                    change=change,
                    content_type=kind,
                    metadata_location_before=getattr(before, "metadata_location", None),
                    metadata_location_after=getattr(after, "metadata_location", None),
                    snapshot_id_before=snapshot_of(before),
                    snapshot_id_after=snapshot_of(after),
                )
            )
        if getattr(response, "has_more", False):
            raise Conflict(
                f"the diff of {from_ref} and {to_ref} is longer than one page",
                hint="diff narrower references (or compare with Nessie's own tools)",
            )
        return sorted(changes, key=lambda c: c.table)
