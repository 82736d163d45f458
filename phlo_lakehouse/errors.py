"""The error hierarchy: every failure a user can act on is a `LakehouseError` with a hint.

A hint that names an argument says it the way the caller sets it: an `Arg` in a `Phrase` is
spelled ``force=True`` for Python callers, ``--force`` on the command line and
``vacuum.force: true`` in Dagster run config. The surface is the one active (`speaking`) when
the error is raised; Python is the default.

Example:
    >>> from phlo_lakehouse.errors import InvalidDuration
    >>> str(InvalidDuration("'5x' is not a duration", hint="use 36h, 5d or P5D"))
    "'5x' is not a duration (hint: use 36h, 5d or P5D)"
    >>> from phlo_lakehouse.vocabulary import SURFACES, Arg, speaking
    >>> hint = Phrase("pass {} to delete them", Arg("force", True, group="vacuum"))
    >>> for surface in SURFACES:
    ...     print(hint.render(surface))
    pass force=True to delete them
    pass --force to delete them
    pass vacuum.force: true to delete them
    >>> with speaking("cli"):
    ...     str(InvalidInput("too young", hint=hint))
    'too young (hint: pass --force to delete them)'
"""

from __future__ import annotations

from typing import Any, Protocol

from phlo_lakehouse.vocabulary import Phrase, current_surface


def _render(text: str | Phrase | None, surface: str) -> str | None:
    return text.render(surface) if isinstance(text, Phrase) else text


def _one_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


class LakehouseError(Exception):
    """Error when a lakehouse action cannot proceed; carries a one-line message and a hint.

    ``message`` and ``hint`` are strings or `Phrase`s; the attributes read them in the surface
    active when the error was raised (`speaking`), `spelled_for` in any other.
    """

    #: Exit code the CLI uses for this class of error.
    exit_code: int = 1

    def __init__(self, message: str | Phrase, hint: str | Phrase | None = None) -> None:
        self.surface = current_surface()
        self._message = message
        self._hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return _one_line(_render(self._message, self.surface) or "")

    @property
    def hint(self) -> str | None:
        return _render(self._hint, self.surface)

    def spelled_for(self, surface: str) -> tuple[str, str | None]:
        """The message and hint as a caller on ``surface`` reads them."""
        return _one_line(_render(self._message, surface) or ""), _render(self._hint, surface)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class InvalidInput(LakehouseError):
    """Error when user input (identifier, ref, duration, size, config…) is malformed."""

    exit_code = 2


class InvalidIdentifier(InvalidInput):
    """Error when a table or namespace identifier is malformed."""


class InvalidRefName(InvalidInput):
    """Error when a branch or tag name is malformed."""


class InvalidDuration(InvalidInput):
    """Error when a duration such as "5d" or "P5D" cannot be parsed or is negative."""


class InvalidSize(InvalidInput):
    """Error when a size such as "128MB" cannot be parsed or is not positive."""


class ConfirmationRequired(InvalidInput):
    """Error when a command that changes something runs non-interactively without ``--yes``."""


class InvalidConfig(InvalidInput):
    """Error when catalog or resource configuration is missing or inconsistent."""


class UnsupportedUpstreamVersion(InvalidConfig):
    """Error when PyIceberg or pynessie is not the exact version whose internals we rely on."""


class NotFound(LakehouseError):
    """Error when a named catalog object does not exist."""

    exit_code = 2


class TableNotFound(NotFound):
    """Error when a table does not exist in the catalog (on the given ref)."""


class NamespaceNotFound(NotFound):
    """Error when a namespace does not exist in the catalog (on the given ref)."""


class RefNotFound(NotFound):
    """Error when a branch or tag does not exist (Nessie reference or Iceberg table ref)."""


class ColumnNotFound(NotFound):
    """Error when a schema change names a column the table does not have."""


class SnapshotNotFound(NotFound):
    """Error when a snapshot id or timestamp matches no snapshot of the table."""


class CatalogUnavailable(LakehouseError):
    """Error when the catalog service cannot be reached or refuses the connection."""


class CatalogMissing(NotFound):
    """Error when the catalog named by the settings does not exist (e.g. a mistyped ``--home``);
    nothing is created unless asked for."""


class TableMetadataMissing(LakehouseError):
    """Error when a file the table's metadata needs (its metadata.json, a manifest list or a
    manifest) is missing from storage; the catalog itself answered.

    Attributes:
        path: the missing file, as storage reported it (None when it did not say).
    """

    def __init__(
        self, message: str | Phrase, hint: str | Phrase | None = None, *, path: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.path = path


class SparkUnavailable(CatalogUnavailable):
    """Error when the Spark engine (a Spark Connect server or local Spark) cannot be reached."""


class AccessDenied(LakehouseError):
    """Error when the principal lacks the permission an operation needs."""


class Conflict(LakehouseError):
    """Error when a commit conflicts with a concurrent change and retries are exhausted."""

    #: True when re-planning on a refreshed target may succeed (the executor then retries).
    retryable: bool = True


class StaleReplace(Conflict):
    """Error when a file to replace is no longer live or a concurrent delete applies to it."""


class MergeConflict(Conflict):
    """Error when a merge would change tables both sides changed; nothing was merged."""

    retryable = False


class OperationFailed(LakehouseError):
    """Error when an operation fails for a reason other than input, access or conflict."""


class PlanStale(Conflict):
    """Error when a confirmed plan no longer matches its table (it moved since the plan)."""


class RetentionFloorViolation(InvalidInput):
    """Error when a retention request is below the floor the caller enforces (Phlo: 168 h)."""


class CommitStateUnknown(LakehouseError):
    """Error when a commit's outcome cannot be determined (its answer was lost and re-reading
    the table did not settle it); nothing the commit may reference was deleted."""


class DeletionIncomplete(OperationFailed):
    """Error when an operation finished but some files it had to delete could not be deleted."""


class AuditUnavailable(LakehouseError):
    """Error when access control is on and the audit store cannot be written: the operation
    does not run (it fails closed, before anything is changed)."""


class AuditFailed(OperationFailed):
    """Error when an audit of a write-audit-publish run fails; ``main`` is unchanged.

    Attributes:
        result: the run's `WapResult` (which audits failed, whether the branch was kept).
    """

    def __init__(
        self, message: str | Phrase, hint: str | Phrase | None = None, *, result: Any
    ) -> None:
        super().__init__(message, hint)
        self.result = result


class _ValidationReport(Protocol):
    @property
    def source(self) -> str: ...

    @property
    def target(self) -> str: ...

    def differences(self) -> list[str]: ...


class ValidationFailed(OperationFailed):
    """Error when a migrated table differs from its source; the source is left as it was.

    Attributes:
        report: the `ValidationReport` with every check.
    """

    def __init__(self, report: _ValidationReport, hint: str | Phrase | None = None) -> None:
        super().__init__(
            f"validation of {report.target} against {report.source} failed: "
            + "; ".join(report.differences()),
            hint=hint
            or "nothing was published and the source is unchanged; inspect the "
            "differences, fix the source and re-run",
        )
        self.report = report


__all__ = [
    "AccessDenied",
    "AuditFailed",
    "AuditUnavailable",
    "CatalogMissing",
    "CatalogUnavailable",
    "ColumnNotFound",
    "CommitStateUnknown",
    "ConfirmationRequired",
    "Conflict",
    "DeletionIncomplete",
    "InvalidConfig",
    "InvalidDuration",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidRefName",
    "InvalidSize",
    "LakehouseError",
    "MergeConflict",
    "NamespaceNotFound",
    "NotFound",
    "OperationFailed",
    "PlanStale",
    "RefNotFound",
    "RetentionFloorViolation",
    "SnapshotNotFound",
    "SparkUnavailable",
    "StaleReplace",
    "TableMetadataMissing",
    "TableNotFound",
    "UnsupportedUpstreamVersion",
    "ValidationFailed",
]
