"""Nessie garbage collection: delete the files no live Nessie commit needs, on every branch, tag and
commit inside each reference's cutoff.

- `phlo_lakehouse.gc.cutoff`: cutoff policies (``NONE``, commits, durations, instants).
- `phlo_lakehouse.gc.history`: Nessie's API v2 (references, commit logs, contents).
- `phlo_lakehouse.gc.mark`: the live set; `phlo_lakehouse.gc.store`: where it is kept (on disk).
- `phlo_lakehouse.gc.listing` and `phlo_lakehouse.gc.sweep`: list base locations, delete.
- `phlo_lakehouse.gc.deferred`: candidate files for review, applied later.
- `phlo_lakehouse.gc.settings`: `GCSettings`, what a run is told; `phlo_lakehouse.gc.collector`:
  `NessieGC` and `GCPlan`, the run end to end.
- `phlo_lakehouse.gc.operation`: `NessieGCOperation` / `ApplyDeferredGCOperation`, the catalog-level
  operations the executor runs (access check ``vacuum``, audit, tracing, dry run).

Example:
    >>> from phlo_lakehouse.gc import GCSettings
    >>> GCSettings(cutoffs=("P10D",), older_than="7d").to_dict()["older_than_seconds"]
    604800.0
"""

from phlo_lakehouse.gc.collector import GCPlan, NessieGC
from phlo_lakehouse.gc.cutoff import CutoffPolicy, CutoffRules, parse_cutoff
from phlo_lakehouse.gc.deferred import DeferredApply
from phlo_lakehouse.gc.operation import ApplyDeferredGCOperation, NessieGCOperation
from phlo_lakehouse.gc.settings import GCSettings

__all__ = [
    "ApplyDeferredGCOperation",
    "CutoffPolicy",
    "CutoffRules",
    "DeferredApply",
    "GCPlan",
    "GCSettings",
    "NessieGC",
    "NessieGCOperation",
    "parse_cutoff",
]
