"""pynessie 0.67's private names: the merge request with the flags pynessie does not expose.

pynessie's ``NessieClient.merge`` sends neither ``isDryRun`` nor ``isReturnConflictAsResult``
(Nessie API v1 names; Nessie silently ignores unknown ones, so a misspelt dry run would really
merge). `post_merge` posts the request body through pynessie's own endpoint helper with the
client's URL, authentication and TLS settings, so requests look exactly like pynessie's.
Importing this module checks the pinned pynessie version.

Example:
    >>> from phlo_lakehouse._upstream.pynessie import post_merge   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phlo_lakehouse._upstream.versions import PYNESSIE_VERSION, check_version

if TYPE_CHECKING:
    from pynessie.client import NessieClient

check_version("pynessie", PYNESSIE_VERSION)


def post_merge(
    client: NessieClient, branch: str, body: dict[str, Any], expected_hash: str | None
) -> dict[str, Any]:
    """POST ``body`` to ``/trees/branch/<branch>/merge`` expecting ``branch`` at
    ``expected_hash``; returns Nessie's merge response (a JSON object).

    Raises:
        pynessie.error.NessieNotFoundException: a reference or the expected hash is gone.
        pynessie.error.NessieConflictException: Nessie refused the merge.
    """
    from pynessie.client import _endpoints

    return _endpoints.merge(
        client._base_url,  # noqa: SLF001
        client._auth,  # noqa: SLF001
        branch,
        body,
        expected_hash,
        client._ssl_verify,  # noqa: SLF001
    )
