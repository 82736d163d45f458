"""Nessie's REST API v2, read-only: references, commit logs with their operations, and the
contents at a commit — what the GC's mark phase walks.

pynessie speaks API v1 only; the GC needs v2's ``fetch=ALL`` commit log (every commit's
operations with their contents) and the entries of a detached commit (``@hash``), so it reads them
with ``requests``. Every listing is paginated with Nessie's page tokens; GET requests are retried on
connection errors and 502/503/504 answers (urllib3's ``Retry``).

Example:
    >>> api = NessieHistory("http://127.0.0.1:19120")                  # doctest: +SKIP
    >>> [r.name for r in api.references()]                             # doctest: +SKIP
    ['dev', 'main', 'v1']
    >>> next(api.commit_log(api.references()[1])).puts[0].key          # doctest: +SKIP
    'raw.events'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from phlo_lakehouse.errors import CatalogUnavailable, OperationFailed, RefNotFound

if TYPE_CHECKING:
    import requests

#: Content type of Iceberg tables in Nessie.
ICEBERG_TABLE = "ICEBERG_TABLE"
#: Log entries and content entries asked for per page.
PAGE_SIZE = 250
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class NessieReference:
    """A named reference: "BRANCH" or "TAG", and the commit hash it points at."""

    name: str
    kind: str
    hash: str


@dataclass(frozen=True)
class TableContent:
    """An Iceberg table as one commit holds it.

    Attributes:
        key: the table's content key, e.g. "raw.events".
        content_id: Nessie's id of the table (kept across renames, new after drop + create).
        metadata_location: the table metadata file of this commit.
        snapshot_id: the table's current snapshot at this commit (None: no snapshot yet).
    """

    key: str
    content_id: str
    metadata_location: str
    snapshot_id: int | None


@dataclass(frozen=True)
class LogEntry:
    """One commit of a reference's (first-parent) log with the tables it put."""

    hash: str
    commit_time: datetime
    puts: tuple[TableContent, ...]


class NessieHistory:
    """Reads references, commit logs and contents through Nessie's API v2.

    Args:
        base_uri: Nessie server root, e.g. http://127.0.0.1:19120.
        session: a `requests.Session` to use (default: one with retries).

    Example:
        >>> NessieHistory("http://127.0.0.1:19120/").api_uri
        'http://127.0.0.1:19120/api/v2'
    """

    def __init__(self, base_uri: str, *, session: requests.Session | None = None) -> None:
        self.api_uri = f"{base_uri.rstrip('/')}/api/v2"
        self._session = session

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            retry = Retry(
                total=4,
                backoff_factor=0.5,
                status_forcelist=(502, 503, 504),
                allowed_methods=frozenset({"GET"}),
            )
            session = requests.Session()
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            self._session = session
        return self._session

    def check(self) -> dict[str, Any]:
        """Nessie's configuration (``/api/v2/config``); raises unless the server speaks v2.

        Raises:
            CatalogUnavailable: no Nessie server answers there.
        """
        config = self._get("config")
        if int(config.get("maxSupportedApiVersion") or 0) < 2:
            raise CatalogUnavailable(
                f"the Nessie server at {self.api_uri} does not serve API v2",
                hint="Nessie GC needs Nessie 0.59 or newer (REST API v2)",
            )
        return config

    def references(self) -> list[NessieReference]:
        """Every branch and tag with its head, sorted by name."""
        found = [
            NessieReference(r["name"], r["type"], r["hash"])
            for page in self._pages("trees", {"fetch": "MINIMAL"})
            for r in page.get("references") or ()
            if r.get("type") in ("BRANCH", "TAG") and r.get("hash")
        ]
        return sorted(found, key=lambda r: r.name)

    def reference(self, name: str) -> NessieReference:
        """The reference called ``name`` as it is now.

        Raises:
            RefNotFound: no such branch or tag.
        """
        ref = self._get(f"trees/{_ref_path(name)}").get("reference") or {}
        return NessieReference(ref["name"], ref["type"], ref["hash"])

    def commit_log(self, ref: NessieReference) -> Iterator[LogEntry]:
        """The commits of ``ref`` from its head (as listed) back to the root, newest first, with
        the Iceberg tables each one put. Read from the commit itself (a detached ``@hash``),
        so a reference moved or deleted while the GC walks it changes nothing: commits are
        immutable, and what it points at now is for the next check."""
        path = f"trees/@{ref.hash}/history"
        for page in self._pages(path, {"fetch": "ALL"}, missing=ref.name):
            for entry in page.get("logEntries") or ():
                meta = entry["commitMeta"]
                puts = tuple(
                    content
                    for op in entry.get("operations") or ()
                    if op.get("type") == "PUT"
                    and (content := _table_content(op.get("key"), op.get("content"))) is not None
                )
                yield LogEntry(meta["hash"], datetime.fromisoformat(meta["commitTime"]), puts)

    def tables_at(self, commit_hash: str) -> Iterator[TableContent]:
        """Every Iceberg table in the state that commit ``commit_hash`` leaves."""
        params = {"content": "true"}
        for page in self._pages(f"trees/@{commit_hash}/entries", params, missing=commit_hash):
            for entry in page.get("entries") or ():
                content = _table_content(entry.get("name"), entry.get("content"))
                if content is not None:
                    yield content

    def _pages(
        self, path: str, params: dict[str, str], *, missing: str | None = None
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            query = {**params, "maxRecords": str(PAGE_SIZE)}
            if token:
                query["pageToken"] = token
            page = self._get(path, query, missing=missing)
            yield page
            token = page.get("token")
            if not page.get("hasMore") or not token:
                return

    def _get(
        self, path: str, params: dict[str, str] | None = None, *, missing: str | None = None
    ) -> dict[str, Any]:
        import requests

        url = f"{self.api_uri}/{path}"
        try:
            response = self.session.get(url, params=params, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as e:
            raise CatalogUnavailable(
                f"cannot reach Nessie at {self.api_uri}: {type(e).__name__}",
                hint="check that the Nessie server is running and the catalog uri is right",
            ) from e
        if response.status_code == 404:
            raise RefNotFound(
                f"Nessie reference or commit {missing or path!r} does not exist",
                hint="list references with `phlo-lakehouse refs list`; a reference deleted "
                "while the GC ran is skipped on the next run",
            )
        if response.status_code >= 400:
            raise OperationFailed(
                f"Nessie answered HTTP {response.status_code} to GET {url}: "
                f"{_error_text(response)}",
                hint="check the Nessie server's log; nothing was deleted",
            )
        try:
            return response.json()
        except ValueError as e:
            raise CatalogUnavailable(
                f"{url} did not answer with JSON (is it a Nessie server?)",
                hint="point the catalog uri at the Nessie server root, e.g. http://nessie:19120",
            ) from e


def _ref_path(name: str) -> str:
    # A "/" inside a reference name is percent-encoded (Nessie rejects it raw in the path).
    return quote(name, safe="")


def _table_content(key: Any, content: Any) -> TableContent | None:
    if not isinstance(content, dict) or content.get("type") != ICEBERG_TABLE:
        return None
    location = content.get("metadataLocation")
    if not location:
        return None
    elements = (key or {}).get("elements") or []
    snapshot_id = content.get("snapshotId")
    return TableContent(
        key=".".join(elements),
        content_id=str(content.get("id") or ""),
        metadata_location=location,
        snapshot_id=int(snapshot_id) if snapshot_id is not None and snapshot_id >= 0 else None,
    )


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.splitlines()[0][:160] if response.text else ""
    return str(body.get("message") or body.get("reason") or "")[:160]
