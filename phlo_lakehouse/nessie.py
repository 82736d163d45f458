"""Catalog-wide Nessie references (branches and tags) through pynessie and Nessie's API v1.

pynessie is imported only when a Nessie client is first used, so ``import phlo_lakehouse``
stays light.

Example:
    >>> refs = NessieReferences("http://127.0.0.1:19120")          # doctest: +SKIP
    >>> refs.create_branch("dev", from_ref="main").kind             # doctest: +SKIP
    'BRANCH'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import CatalogUnavailable, Conflict, RefNotFound
from phlo_lakehouse.identifiers import validate_ref_name

if TYPE_CHECKING:
    from pynessie.client import NessieClient


@dataclass(frozen=True)
class NessieRef:
    """A Nessie reference: its name, kind (BRANCH or TAG) and the commit hash it points at."""

    name: str
    kind: str
    hash: str | None


class NessieReferences:
    """Reads and changes Nessie references.

    Args:
        base_uri: Nessie server root, e.g. http://127.0.0.1:19120 (API v1 is used).

    Example:
        >>> NessieReferences("http://127.0.0.1:19120").api_uri
        'http://127.0.0.1:19120/api/v1'
    """

    def __init__(self, base_uri: str) -> None:
        self.api_uri = f"{base_uri.rstrip('/')}/api/v1"
        self._client: NessieClient | None = None

    @property
    def client(self) -> NessieClient:
        """The pynessie client, created on first use."""
        if self._client is None:
            import pynessie

            self._client = pynessie.init(
                config_dict={"endpoint": self.api_uri, "verify": True, "auth": {"type": "none"}}
            )
        return self._client

    def get(self, name: str) -> NessieRef:
        """The reference called ``name``.

        Raises:
            RefNotFound: no branch or tag has that name.
        """
        validate_ref_name(name)
        ref = self._call(self.client.get_reference, name, missing_ref=name)
        return _to_ref(ref)

    def list(self) -> list[NessieRef]:
        """Every branch and tag, sorted by name."""
        response = self._call(self.client.list_references)
        return sorted((_to_ref(r) for r in response.references), key=lambda r: r.name)

    def create_branch(self, name: str, from_ref: str = "main") -> NessieRef:
        """Create branch ``name`` at the head of ``from_ref``."""
        validate_ref_name(name)
        source = self.get(from_ref)
        created = self._call(self.client.create_branch, name, source.name, source.hash)
        return _to_ref(created)

    def create_tag(self, name: str, from_ref: str = "main") -> NessieRef:
        """Create tag ``name`` at the head of ``from_ref``."""
        validate_ref_name(name)
        source = self.get(from_ref)
        created = self._call(self.client.create_tag, name, source.name, source.hash)
        return _to_ref(created)

    def delete(self, name: str) -> None:
        """Delete branch or tag ``name`` (at its current hash)."""
        ref = self.get(name)
        delete = self.client.delete_tag if ref.kind == "TAG" else self.client.delete_branch
        self._call(delete, ref.name, ref.hash)

    def _call(self, fn: Any, *args: Any, missing_ref: str | None = None) -> Any:
        from pynessie.error import (
            NessieConflictException,
            NessieNotFoundException,
        )

        try:
            return fn(*args)
        except NessieNotFoundException as e:
            raise RefNotFound(
                f"Nessie reference {missing_ref or args[0]!r} does not exist",
                hint="list references with `phlo-lakehouse refs list` or create the branch first",
            ) from e
        except NessieConflictException as e:
            raise Conflict(
                f"Nessie refused the change: {str(e).splitlines()[0][:160]}",
                hint="the reference moved or already exists; re-read it and try again",
            ) from e
        except OSError as e:
            raise CatalogUnavailable(
                f"cannot reach Nessie at {self.api_uri}: {type(e).__name__}",
                hint="check that the Nessie server is running and NESSIE_HOST/NESSIE_PORT are right",
            ) from e


def _to_ref(ref: Any) -> NessieRef:
    kind = "TAG" if type(ref).__name__ == "Tag" else "BRANCH"
    return NessieRef(name=ref.name, kind=kind, hash=getattr(ref, "hash_", None))
