"""The upstream versions whose internals the boundary was written and tested against.

Example:
    >>> check_version("pyiceberg", PYICEBERG_VERSION)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from phlo_lakehouse.errors import UnsupportedUpstreamVersion

#: Pinned exactly in pyproject.toml: every private name of PyIceberg we use is verified for it.
PYICEBERG_VERSION = "0.12.0"
#: Pinned exactly in pyproject.toml: the merge endpoint helper and client attributes we use.
PYNESSIE_VERSION = "0.67.0"


def check_version(package: str, pinned: str) -> None:
    """Refuse to run against a ``package`` whose internals we have not verified (read from its
    installed distribution, so checking imports nothing).

    Raises:
        UnsupportedUpstreamVersion: the installed version is not ``pinned``.
    """
    try:  # the distribution's metadata: importing the package itself is not light
        installed: str | None = version(package)
    except PackageNotFoundError:
        installed = None
    if installed != pinned:
        raise UnsupportedUpstreamVersion(
            f"phlo_lakehouse relies on internals of {package}=={pinned}, found {installed}",
            hint=f'install "{package}=={pinned}" (it is pinned in pyproject.toml)',
        )
