"""`NessieConnection`: the pynessie client of one Nessie server, its error mapping, and the
reference changes (create, delete, assign) the other Nessie modules build on.

pynessie is imported only when the client is first used, so ``import phlo_lakehouse`` stays
light.

Example:
    >>> NessieConnection("http://127.0.0.1:19120").api_uri
    'http://127.0.0.1:19120/api/v1'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phlo_lakehouse.errors import CatalogUnavailable, Conflict, RefNotFound
from phlo_lakehouse.identifiers import validate_ref_name
from phlo_lakehouse.nessie.model import NessieRef, check_hash, to_ref

if TYPE_CHECKING:
    from pynessie.client import NessieClient


class NessieConnection:
    """Reads and changes Nessie references (branches and tags) through pynessie.

    Args:
        base_uri: Nessie server root, e.g. http://127.0.0.1:19120 (API v1 is used).

    Example:
        >>> NessieConnection("http://127.0.0.1:19120").api_uri
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
        return to_ref(ref)

    def list(self) -> list[NessieRef]:
        """Every branch and tag, sorted by name."""
        response = self._call(self.client.list_references)
        return sorted((to_ref(r) for r in response.references), key=lambda r: r.name)

    def create_branch(
        self, name: str, from_ref: str = "main", *, hash: str | None = None
    ) -> NessieRef:
        """Create branch ``name`` at the head of ``from_ref`` (or at its commit ``hash``)."""
        return self._create("BRANCH", name, from_ref, hash)

    def create_tag(
        self, name: str, from_ref: str = "main", *, hash: str | None = None
    ) -> NessieRef:
        """Create tag ``name`` at the head of ``from_ref`` (or at its commit ``hash``)."""
        return self._create("TAG", name, from_ref, hash)

    def _create(self, kind: str, name: str, from_ref: str, hash: str | None) -> NessieRef:
        validate_ref_name(name)
        check_hash(hash)
        source = self.get(from_ref)
        target = hash or source.hash
        create = self.client.create_tag if kind == "TAG" else self.client.create_branch
        self._change(
            f"creating {kind.lower()} {name!r}",
            lambda: create(name, source.name, target),
            landed=lambda: self._points_at(name, target),
            missing_ref=from_ref,
        )
        return NessieRef(name, kind, target)

    def delete(self, name: str, *, expected_hash: str | None = None) -> None:
        """Delete branch or tag ``name`` at ``expected_hash`` (default: its current hash).

        Raises:
            RefNotFound: no such reference.
            Conflict: it no longer points at ``expected_hash``.
        """
        check_hash(expected_hash)
        ref = self.get(name)
        delete = self.client.delete_tag if ref.kind == "TAG" else self.client.delete_branch
        self._change(
            f"deleting {name!r}",
            lambda: delete(ref.name, expected_hash or ref.hash),
            landed=lambda: self._points_at(name, None),
            missing_ref=name,
        )

    def assign(
        self,
        name: str,
        to_ref: str,
        *,
        hash: str | None = None,
        expected_hash: str | None = None,
    ) -> NessieRef:
        """Point branch or tag ``name`` at the head of ``to_ref`` (or at commit ``hash`` on it).

        Args:
            name: the branch or tag to move.
            to_ref: the reference whose head (or whose commit ``hash``) ``name`` moves to.
            hash: a commit reachable from ``to_ref``, e.g. one from `log`.
            expected_hash: where ``name`` must point now (default: its head as read here);
                a different head raises `Conflict`.

        Raises:
            RefNotFound: ``name`` or ``to_ref`` does not exist.
            InvalidInput: ``hash`` is not a commit hash.
            Conflict: ``name`` moved since ``expected_hash``.

        Example:
            >>> old = refs.log("dev", limit=2)[1].hash                   # doctest: +SKIP
            >>> refs.assign("dev", "dev", hash=old).hash == old           # doctest: +SKIP
            True
        """
        check_hash(hash)
        check_hash(expected_hash)
        ref = self.get(name)
        target = self.get(to_ref)
        to_hash = hash or target.hash
        assign = self.client.assign_tag if ref.kind == "TAG" else self.client.assign_branch
        self._change(
            f"assigning {name!r}",
            lambda: assign(ref.name, target.name, to_hash, expected_hash or ref.hash),
            landed=lambda: self._points_at(name, to_hash),
            missing_ref=name,
        )
        return NessieRef(ref.name, ref.kind, to_hash)

    def _change(self, what: str, send: Any, *, landed: Any, missing_ref: str | None = None) -> Any:
        """Change a reference under the commit-outcome rule (`phlo_lakehouse.outcome`): a lost
        answer is settled by re-reading the reference and, if unchanged, sending the change
        again (the expected hash or the name's absence makes it apply at most once)."""
        from phlo_lakehouse.outcome import commit_resolving, status_check_policy

        return self._call(
            lambda: commit_resolving(
                send, landed, what=f"Nessie: {what}", policy=status_check_policy({})
            ),
            missing_ref=missing_ref,
        )

    def _points_at(self, name: str, commit_hash: str | None) -> bool:
        """Whether reference ``name`` points at ``commit_hash`` (None: does not exist); a fresh
        read, raising transient errors for the caller to retry."""
        from pynessie.error import NessieNotFoundException

        try:
            ref = self.client.get_reference(name)
        except NessieNotFoundException:
            return commit_hash is None
        return commit_hash is not None and getattr(ref, "hash_", None) == commit_hash

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
                hint="check that the Nessie server is running and NESSIE_HOST/NESSIE_PORT "
                "are right",
            ) from e
