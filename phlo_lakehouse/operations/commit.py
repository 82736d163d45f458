"""Committing table metadata changes: the one place that touches PyIceberg's commit internals.

PyIceberg 0.12 offers no ``replace`` snapshot producer, no manifest rewrite and an expiry that is
not safe to re-run; our operations therefore build their own updates and commit them here with
explicit optimistic-concurrency requirements. A `CommitFailedException` (the table moved) becomes
`Conflict`, which the operations answer by re-validating on a refreshed table.

This module relies on PyIceberg internals (``Table._do_commit``): the version is pinned exactly in
``pyproject.toml`` and ``phlo_lakehouse_tests/operations/test_commit_contract.py`` checks the hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from phlo_lakehouse.errors import Conflict

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.update import TableRequirement, TableUpdate

#: The PyIceberg version whose internals this module was written and tested against.
PYICEBERG_VERSION = "0.12.0"


def check_pyiceberg_version() -> None:
    """Refuse to run against a PyIceberg whose internals we have not verified."""
    import pyiceberg

    if pyiceberg.__version__ != PYICEBERG_VERSION:
        from phlo_lakehouse.errors import InvalidConfig

        raise InvalidConfig(
            f"phlo_lakehouse's commit path needs pyiceberg=={PYICEBERG_VERSION}, "
            f"found {pyiceberg.__version__}",
            hint=f'install "pyiceberg=={PYICEBERG_VERSION}" (it is pinned in pyproject.toml)',
        )


def commit_updates(
    table: Table,
    updates: Sequence[TableUpdate],
    requirements: Sequence[TableRequirement],
) -> Table:
    """Commit ``updates`` if ``requirements`` hold; the table object is updated in place.

    An ``AssertTableUUID`` requirement is always added. Old metadata.json files are pruned per
    ``write.metadata.delete-after-commit.enabled`` / ``previous-versions-max``, as on every
    PyIceberg commit.

    Raises:
        Conflict: a requirement failed (the table or a ref moved since it was read).
    """
    from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException
    from pyiceberg.table.update import AssertTableUUID

    check_pyiceberg_version()
    reqs = (*requirements, AssertTableUUID(uuid=table.metadata.table_uuid))
    try:
        table._do_commit(updates=tuple(updates), requirements=reqs)  # noqa: SLF001 - see module doc
    except CommitFailedException as e:
        raise Conflict(
            f"the table changed concurrently: {str(e).splitlines()[0][:200]}",
            hint="re-run; the operation re-validates against the refreshed table",
        ) from e
    except CommitStateUnknownException:
        # The commit may or may not have landed: never clean up files it may reference.
        raise
    return table
