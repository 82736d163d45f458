"""`NessieReferences`: catalog-wide Nessie references (branches and tags) through pynessie and
Nessie's API v1.

Besides creating and deleting references, `NessieReferences` reads the commit log (`log`,
`table_history`), compares references with Nessie's diff API (`diff`), moves references
(`assign`) and merges branches (`merge`, with a dry run that reports conflicting tables).

**Maintenance and Nessie GC.** A Nessie table's metadata holds only its current snapshot: older
states live in Nessie's commit log, and other branches and tags may point at files the current
metadata no longer lists. Deleting files from one reference's point of view is therefore unsafe,
so ``ExpireSnapshotsOperation(delete_files=True)`` and ``VacuumOperation`` refuse on Nessie;
expiry with ``delete_files=False`` only rewrites metadata and is safe. Removing unreferenced files
is Nessie GC's job: `phlo_lakehouse.gc.NessieGCOperation` (``phlo-lakehouse gc``) marks live
contents over every reference and its commit log within the cutoff, then sweeps the rest.

pynessie is imported only when a Nessie client is first used, so ``import phlo_lakehouse``
stays light. pynessie 0.67 does not expose the merge flags ``isDryRun`` /
``isReturnConflictAsResult`` (the v1 JSON names, not ``dryRun``: Nessie ignores unknown
fields and would really merge), so `merge` posts the request through pynessie's endpoint helper.

Example:
    >>> refs = NessieReferences("http://127.0.0.1:19120")          # doctest: +SKIP
    >>> refs.create_branch("dev", from_ref="main").kind             # doctest: +SKIP
    'BRANCH'
    >>> [c.table for c in refs.diff("main", "dev")]                 # doctest: +SKIP
    ['raw.events']
    >>> refs.merge("dev", onto="main", dry_run=True).conflicts      # doctest: +SKIP
    ()
"""

from __future__ import annotations

from phlo_lakehouse.nessie.history import NessieHistory
from phlo_lakehouse.nessie.merge import NessieMerge


class NessieReferences(NessieHistory, NessieMerge):
    """Reads and changes Nessie references: create, delete and assign them
    (`NessieConnection`), read their logs (`NessieHistory`), compare (`NessieDiff`) and merge
    them (`NessieMerge`).

    Args:
        base_uri: Nessie server root, e.g. http://127.0.0.1:19120 (API v1 is used).

    Example:
        >>> NessieReferences("http://127.0.0.1:19120").api_uri
        'http://127.0.0.1:19120/api/v1'
    """
