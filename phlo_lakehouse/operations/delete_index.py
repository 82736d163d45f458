"""Which live delete files apply to which live data files (Iceberg's sequence-number and
partition rules, `files.applicable_deletes`), for operations that read a snapshot's live rows.

Example:
    >>> live = live_files(table, table.current_snapshot())          # doctest: +SKIP
    >>> read_group(table, live.data, deletes_by_data_file(live))     # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict

from phlo_lakehouse.operations.live_files import LiveFile, LiveFiles, applicable_deletes


def deletes_by_data_file(live: LiveFiles) -> dict[str, list[LiveFile]]:
    """The delete files of ``live`` that apply to each of its data files, by data file path
    (deletes of an unpartitioned spec are candidates for every partition)."""
    by_partition: dict[tuple, list[LiveFile]] = defaultdict(list)
    global_deletes: list[LiveFile] = []
    for delete in live.deletes:
        if len(delete.data_file.partition) == 0:
            global_deletes.append(delete)
        else:
            by_partition[delete.partition_key].append(delete)
    return {
        f.path: applicable_deletes(f, by_partition.get(f.partition_key, []) + global_deletes)
        for f in live.data
    }
