"""The CLI refuses an embedded catalog that does not exist instead of creating an empty one.

A mistyped ``--home`` or sqlite ``--catalog-uri`` (or no ``--home`` in a directory without
``.lakehouse``) would otherwise open a brand-new lakehouse with no tables. ``demo seed`` and the
group's ``--create`` flag create one; the Python API and Dagster resources are not affected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phlo_lakehouse.catalogs import sqlite_catalog_path
from phlo_lakehouse.errors import CatalogMissing

if TYPE_CHECKING:
    from phlo_lakehouse.config import CatalogSettings

MISSING_HINT = (
    "check --home/--catalog-uri; create one with `phlo-lakehouse demo seed`, "
    "or pass --create before the command"
)


def require_existing_catalog(settings: CatalogSettings) -> None:
    """Refuse an embedded SQLite catalog whose database file does not exist.

    Raises:
        CatalogMissing: no catalog file (nothing was created); the hint says how to create one.

    Example:
        >>> from phlo_lakehouse.config import CatalogSettings
        >>> require_existing_catalog(CatalogSettings.embedded("/nonexistent/lh"))
        Traceback (most recent call last):
        ...
        phlo_lakehouse.errors.CatalogMissing: no lakehouse at /nonexistent/lh (hint: ...)
    """
    path = sqlite_catalog_path(settings)
    if path is not None and not path.exists():
        where = path.parent if path.name == "catalog.db" else path
        raise CatalogMissing(f"no lakehouse at {where}", hint=MISSING_HINT)
