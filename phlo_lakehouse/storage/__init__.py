"""Object stores and file systems below the table layer: batch deletion with retries.

Example:
    >>> from phlo_lakehouse.storage import delete_files
    >>> delete_files(table.io, ["s3://bucket/t/data/a.parquet"]).failed   # doctest: +SKIP
    {}
"""

from phlo_lakehouse.storage.deletion import DeletionResult, delete_files

__all__ = ["DeletionResult", "delete_files"]
