"""A Nessie server of the GC tests' own (``scripts/services/nessie.sh``: in-memory version store,
its warehouse in a bucket of its own on the run's moto), so that a GC walks only the history the
test built, and `NessieServer.reset` can wipe that history between tests without touching the
Nessie every other test shares.

Example:
    >>> with NessieServer.started(tmp_path, s3_endpoint) as server:     # doctest: +SKIP
    ...     server.reset()
    ...     lakehouse = server.lakehouse()
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import requests

from phlo_lakehouse import CatalogSettings, IcebergLakehouse
from phlo_lakehouse.nessie import NO_ANCESTOR_HASH

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "services" / "nessie.sh"
S3_PROPERTIES = {
    "s3.access-key-id": "testing",
    "s3.secret-access-key": "testing",
    "s3.region": "us-east-1",
    "s3.path-style-access": "true",
}


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NessieServer:
    """One Nessie server started by ``nessie.sh`` with its own state directory and ports."""

    root: Path
    s3_endpoint: str
    bucket: str
    port: int
    management_port: int

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PHLO_SERVICES_DIR": str(self.root),
            "PHLO_TEST_NESSIE_PORT": str(self.port),
            "PHLO_TEST_NESSIE_MANAGEMENT_PORT": str(self.management_port),
            "PHLO_TEST_MOTO_PORT": str(urlparse(self.s3_endpoint).port),
            "PHLO_TEST_NESSIE_BUCKET": self.bucket,
            "NESSIE_JAVA_OPTS": os.environ.get("NESSIE_JAVA_OPTS", "-Xms64m -Xmx512m"),
        }

    def start(self) -> None:
        result = subprocess.run(
            ["bash", str(SCRIPT), "start"], env=self._env(), capture_output=True, text=True
        )
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
            raise RuntimeError(f"nessie.sh start failed:\n{tail}")

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=self._env(), capture_output=True)

    @classmethod
    @contextmanager
    def started(
        cls, root: Path, s3_endpoint: str, bucket: str = "gc-warehouse"
    ) -> Iterator[NessieServer]:
        server = cls(root, s3_endpoint, bucket, free_port(), free_port())
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def settings(self) -> CatalogSettings:
        return CatalogSettings(
            type="nessie",
            uri=self.uri,
            warehouse="warehouse",
            properties={**S3_PROPERTIES, "s3.endpoint": self.s3_endpoint},
        )

    def lakehouse(self) -> IcebergLakehouse:
        return IcebergLakehouse(self.settings())

    def reset(self) -> None:
        """Delete every reference but ``main`` and point ``main`` at the empty commit: no history
        is left for a GC to walk (files stay in the bucket, outside every table a GC knows)."""
        api = f"{self.uri}/api/v2"
        for ref in requests.get(f"{api}/trees", timeout=30).json()["references"]:
            path = f"{api}/trees/{requests.utils.quote(ref['name'], safe='')}@{ref['hash']}"
            if ref["name"] != "main":
                requests.delete(path, timeout=30).raise_for_status()
            elif ref["hash"] != NO_ANCESTOR_HASH:
                body = {"type": "BRANCH", "name": "main", "hash": NO_ANCESTOR_HASH}
                requests.put(path, json=body, timeout=30).raise_for_status()
