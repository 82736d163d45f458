"""Plan tokens: what Phlo's ``apply`` hands back so the executor can recover and re-check a plan.

``phlo operations maintenance apply`` passes only ``table_name``, ``ref`` and ``plan_token`` to the
provider, so the token carries what the plan was made from — the operation and its settings
(with the expiry's reference time fixed), the table's uuid and the snapshot id at the ref — plus a
fingerprint of the plan itself. ``execute`` decodes it, plans again with the same settings and
refuses unless the new plan has the same table, snapshot and fingerprint.

A token is ``plk1.<base64url JSON>.<fingerprint>``. It is a binding, not a credential: anyone
can mint one for the current state of a table, which is no more than planning again. Settings
read back from a token are validated like any other input (the 168-hour retention floor
included), and access control still decides who may apply.

Example:
    >>> token = PlanToken("compact", "demo.events", "main", "u-1", 42, {"min_input_files": 5}, "ab")
    >>> PlanToken.decode(token.encode()) == token
    True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from phlo_lakehouse.errors import InvalidInput

PREFIX = "plk1"
#: Plan details that do not change what an execution does (timings, reference-time echoes).
_VOLATILE_DETAILS = frozenset({"now"})


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def plan_fingerprint(figures: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """A digest of what a plan would do: its figures and the details execution acts on.

    Example:
        >>> plan_fingerprint({"files": 2}, {"groups": []}) == plan_fingerprint(
        ...     {"files": 2}, {"groups": [], "now": "x"})
        True
    """
    kept = {k: v for k, v in details.items() if k not in _VOLATILE_DETAILS}
    digest = hashlib.sha256(_canonical({"figures": dict(figures), "details": kept}).encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class PlanToken:
    """The binding between a Phlo plan and the table state it was made on.

    Attributes:
        operation: Phlo's operation name ("compact" or "snapshot_expiry").
        table: the table identifier as planned.
        ref: the ref planned on.
        table_uuid: the table's uuid (a dropped and re-created table has another).
        snapshot_id: the head of ``ref`` when planned (None for an empty table).
        settings: the operation's arguments, as the executor passes them to the operation.
        fingerprint: `plan_fingerprint` of the plan.
    """

    operation: str
    table: str
    ref: str
    table_uuid: str
    snapshot_id: int | None
    settings: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    def encode(self) -> str:
        """The token text."""
        payload = {
            "op": self.operation,
            "table": self.table,
            "ref": self.ref,
            "uuid": self.table_uuid,
            "snapshot": self.snapshot_id,
            "settings": dict(self.settings),
        }
        body = base64.urlsafe_b64encode(_canonical(payload).encode()).decode().rstrip("=")
        return f"{PREFIX}.{body}.{self.fingerprint}"

    @classmethod
    def decode(cls, text: str) -> PlanToken:
        """Read a token.

        Raises:
            InvalidInput: the text is not a token this executor wrote.
        """
        parts = text.split(".") if isinstance(text, str) else []
        if len(parts) != 3 or parts[0] != PREFIX:
            raise InvalidInput(
                "the plan token was not written by phlo-lakehouse's executor",
                hint="plan again with `phlo operations maintenance plan --format json`",
            )
        try:
            raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
            payload = json.loads(raw)
            snapshot = payload["snapshot"]
            token = cls(
                operation=str(payload["op"]),
                table=str(payload["table"]),
                ref=str(payload["ref"]),
                table_uuid=str(payload["uuid"]),
                snapshot_id=int(snapshot) if snapshot is not None else None,
                settings=dict(payload["settings"]),
                fingerprint=parts[2],
            )
        except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as e:
            raise InvalidInput(
                "the plan token is damaged",
                hint="use the plan_token of an unedited plan file, or plan again",
            ) from e
        return token
