"""`ManifestFactory`: the manifests and the manifest list one commit writes, each recorded so
that a commit that did not land can remove them.

Example:
    >>> factory = ManifestFactory(table, snapshot_id, uuid.uuid4(), written=[])  # doctest: +SKIP
    >>> manifest = factory.added(0, data_files)                               # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from phlo_lakehouse._upstream.manifest_writer import manifest_writer

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile, ManifestEntry, ManifestFile
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot


def manifests_of(table: Table, snapshot: Snapshot) -> list[ManifestFile]:
    """The manifests of ``snapshot``; on v3 with their ``first_row_id`` (PyIceberg drops it)."""
    if table.metadata.format_version >= 3:
        from phlo_lakehouse._upstream.manifests_v3 import read_manifest_list

        return read_manifest_list(table.io, snapshot.manifest_list)
    return list(snapshot.manifests(table.io))


class ManifestFactory:
    """Writes this commit's manifests and manifest list, recording every path it creates."""

    def __init__(self, table: Table, snapshot_id: int, commit_uuid: uuid.UUID, written: list[str]):
        from pyiceberg.table import TableProperties

        self.table = table
        self.metadata = table.metadata
        self.snapshot_id = snapshot_id
        self.commit_uuid = commit_uuid
        self.written = written
        self.counter = 0
        self.compression = self.metadata.properties.get(
            TableProperties.WRITE_AVRO_COMPRESSION, TableProperties.WRITE_AVRO_COMPRESSION_DEFAULT
        )

    def _output(self, name: str):
        path = self.table.location_provider().new_metadata_location(name)
        self.written.append(path)
        return self.table.io.new_output(path)

    def writer(self, spec_id: int, content: int):
        from pyiceberg.manifest import ManifestContent

        name = f"{self.commit_uuid}-m{self.counter}.avro"
        self.counter += 1
        return manifest_writer(
            self.metadata.format_version,
            self.metadata.specs()[spec_id],
            self.metadata.schema(),
            self._output(name),
            self.snapshot_id,
            self.compression,
            deletes=content == ManifestContent.DELETES,
        )

    def rewrite(
        self, manifest: ManifestFile, kept: list[ManifestEntry], gone: list[ManifestEntry]
    ) -> ManifestFile:
        with self.writer(manifest.partition_spec_id, manifest.content) as writer:
            for entry in kept:
                writer.existing(entry)
            for entry in gone:
                writer.delete(entry)
        return writer.to_manifest_file()

    def added(
        self,
        spec_id: int,
        files: list[DataFile],
        *,
        deletes: bool = False,
        sequence_number: int | None = None,
    ) -> ManifestFile:
        from pyiceberg.manifest import ManifestContent, ManifestEntry, ManifestEntryStatus

        content = ManifestContent.DELETES if deletes else ManifestContent.DATA
        with self.writer(spec_id, content) as writer:
            for data_file in files:
                writer.add_entry(
                    ManifestEntry.from_args(
                        status=ManifestEntryStatus.ADDED,
                        snapshot_id=self.snapshot_id,
                        sequence_number=sequence_number,
                        file_sequence_number=None,
                        data_file=data_file,
                    )
                )
        return writer.to_manifest_file()

    def manifest_list(
        self, manifests: list[ManifestFile], parent_id: int, sequence_number: int
    ) -> tuple[str, int | None]:
        """The new snapshot's manifest list: its location and, on format v3, the rows it
        assigned ids to (the snapshot's ``added-rows``; None before v3)."""
        if self.metadata.format_version >= 3:
            return self._manifest_list_v3(manifests, parent_id, sequence_number)
        return self._manifest_list_v2(manifests, parent_id, sequence_number), None

    def _manifest_list_v2(
        self, manifests: list[ManifestFile], parent_id: int, sequence_number: int
    ) -> str:
        from pyiceberg.manifest import write_manifest_list

        name = f"snap-{self.snapshot_id}-1-{self.commit_uuid}.avro"
        output = self._output(name)
        with write_manifest_list(
            format_version=self.metadata.format_version,
            output_file=output,
            snapshot_id=self.snapshot_id,
            parent_snapshot_id=parent_id,
            sequence_number=sequence_number,
            # PyIceberg's Literal omits the Iceberg codec names it maps at runtime (gzip, zstd).
            avro_compression=self.compression,  # type: ignore[arg-type]
        ) as writer:
            writer.add_manifests(manifests)
        return output.location

    def _manifest_list_v3(
        self, manifests: list[ManifestFile], parent_id: int, sequence_number: int
    ) -> tuple[str, int]:
        """A format v3 manifest list (new data manifests assigned row ids from the table's
        ``next-row-id``): its location and the rows assigned, the snapshot's ``added-rows``."""
        from phlo_lakehouse._upstream.manifests_v3 import write_manifest_list

        first_row_id = getattr(self.metadata, "next_row_id", None) or 0
        output = self._output(f"snap-{self.snapshot_id}-1-{self.commit_uuid}.avro")
        next_row_id = write_manifest_list(
            output,
            manifests,
            snapshot_id=self.snapshot_id,
            parent_snapshot_id=parent_id,
            sequence_number=sequence_number,
            first_row_id=first_row_id,
            compression=self.compression,
        )
        return output.location, next_row_id - first_row_id
