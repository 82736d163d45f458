"""The GC tests' oracle, sharing no code with `phlo_lakehouse.gc`: Nessie is read through
pynessie's API v1 (not the GC's v2 reader), the live commits come from the policies as the tests
state them, a live commit contributes the whole state it leaves (every table in it, read from
Nessie at that commit), and a table metadata file's files come from PyIceberg's own readers
(``Snapshot.manifests``, ``ManifestFile.fetch_manifest_entry``), not the GC's projected reads.
Storage is listed with boto3 directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from phlo_lakehouse.lakehouse import IcebergLakehouse


@dataclass(frozen=True)
class Policy:
    """A cutoff as the tests state it: keep everything, the newest N commits, or commits at or
    after an instant (the head always)."""

    commits: int | None = None
    since: datetime | None = None

    def live(self, position: int, commit_time: datetime) -> bool:
        if position == 1:
            return True
        if self.commits is not None:
            return position <= self.commits
        if self.since is not None:
            return commit_time >= self.since
        return True


def live_commits(
    lakehouse: IcebergLakehouse, policy_for: Callable[[str], Policy]
) -> dict[str, list[str]]:
    """Reference name -> its live commit hashes (newest first), from pynessie's v1 log."""
    found: dict[str, list[str]] = {}
    for ref in lakehouse.nessie.list():
        policy = policy_for(ref.name)
        commits = lakehouse.nessie.log(ref.name, hash=ref.hash)
        found[ref.name] = [
            c.hash for i, c in enumerate(commits, start=1) if policy.live(i, c.commit_time)
        ]
    return found


def tables_at(lakehouse: IcebergLakehouse, ref: str, commit_hash: str) -> dict[str, str]:
    """Table key -> metadata location of every Iceberg table at a commit of ``ref`` (v1)."""
    from pynessie.model import ContentKey

    client = lakehouse.nessie.client
    entries = client.list_keys(ref, hash_on_ref=commit_hash).entries
    tables = {}
    for entry in entries:
        if entry.kind != "ICEBERG_TABLE":
            continue
        key = ContentKey(list(entry.name.elements))
        content = client.get_content(ref, key, hash_on_ref=commit_hash)
        tables[key.to_path_string()] = content.metadata_location
    return tables


def files_of(metadata_location: str, properties: Mapping[str, str]) -> set[str]:
    """Every file a table metadata file needs: itself, its metadata log and statistics, and for
    each snapshot the manifest list, manifests and live data/delete files."""
    from pyiceberg.table import StaticTable

    table = StaticTable.from_metadata(metadata_location, dict(properties))
    metadata, io = table.metadata, table.io
    files = {metadata_location, *(e.metadata_file for e in metadata.metadata_log)}
    files |= {s.statistics_path for s in metadata.statistics}
    files |= {s.statistics_path for s in metadata.partition_statistics}
    for snapshot in metadata.snapshots:
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            files.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                files.add(entry.data_file.file_path)
    return files


def expected_live(
    lakehouse: IcebergLakehouse, policy_for: Callable[[str], Policy], properties: Mapping[str, str]
) -> tuple[set[str], dict[str, tuple[str, dict[str, str]]]]:
    """(every file a live commit needs, commit hash -> (a reference it is on, its tables))."""
    states: dict[str, tuple[str, dict[str, str]]] = {}
    for ref, hashes in live_commits(lakehouse, policy_for).items():
        for commit_hash in hashes:
            if commit_hash not in states:
                states[commit_hash] = (ref, tables_at(lakehouse, ref, commit_hash))
    live: set[str] = set()
    read: set[str] = set()
    for _, tables in states.values():
        for location in tables.values():
            if location not in read:
                read.add(location)
                live |= files_of(location, properties)
    return live, states


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def bucket_files(s3: Any, bucket: str) -> dict[str, datetime]:
    """URI -> last modification time of every object in ``bucket`` (directory markers, keys
    ending in "/" that pyarrow leaves when it deletes a prefix's last object, are no files)."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents") or []:
            if not obj["Key"].endswith("/"):
                found[f"s3://{bucket}/{obj['Key']}"] = obj["LastModified"]
    return found


def put(s3: Any, uri: str, body: bytes = b"orphan") -> None:
    """Write an object at ``uri`` (s3://bucket/key)."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def hidden(uri: str, locations: list[str]) -> bool:
    """True when ``uri`` lies inside one of ``locations`` under a name or directory starting with
    "." or "_" (the GC, like vacuum, never deletes those)."""
    for location in locations:
        base = location.rstrip("/") + "/"
        if uri.startswith(base):
            parts = uri[len(base) :].split("/")
            return any(p.startswith((".", "_")) and "=" not in p for p in parts[:-1]) or parts[
                -1
            ].startswith((".", "_"))
    return False


def inside(uri: str, locations: list[str]) -> bool:
    return any(uri.startswith(location.rstrip("/") + "/") for location in locations)


def expected_deletions(
    before: Mapping[str, datetime],
    live: set[str],
    locations: list[str],
    delete_before: datetime,
) -> set[str]:
    """Files in ``before`` inside ``locations`` that no live commit needs, not hidden, and
    modified before ``delete_before``."""
    return {
        uri
        for uri, modified in before.items()
        if inside(uri, locations)
        and uri not in live
        and not hidden(uri, locations)
        and modified < delete_before
    }
