"""Errors in Dagster speak run config: an argument a hint names is spelled as its run-config key.

`in_run_config_terms` wraps an op's compute function (or a component's ``build_defs``) so that a
`LakehouseError` raised inside reads ``vacuum.force: true`` where a Python caller reads
``force=True`` and the CLI ``--force`` (see `phlo_lakehouse.errors.Phrase`).

Example:
    >>> from phlo_lakehouse.errors import InvalidInput
    >>> from phlo_lakehouse.vocabulary import Arg, Phrase
    >>> hint = Phrase("set {}", Arg("force", True, group="vacuum"))
    >>> @in_run_config_terms
    ... def body():
    ...     raise InvalidInput("too young", hint=hint)
    >>> try:
    ...     body()
    ... except InvalidInput as error:
    ...     print(error)
    too young (hint: set vacuum.force: true)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from phlo_lakehouse.vocabulary import speaking

F = TypeVar("F", bound=Callable[..., Any])


def in_run_config_terms(function: F) -> F:
    """``function`` with errors raised inside spelled for Dagster run config.

    A generator function runs to its end inside (its outputs are then yielded), so no yield
    leaves the surface set while Dagster's own code runs.
    """
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with speaking("dagster"):
                outputs = list(function(*args, **kwargs))
            yield from outputs

        return cast(F, generator)

    @functools.wraps(function)
    def plain(*args: Any, **kwargs: Any) -> Any:
        with speaking("dagster"):
            return function(*args, **kwargs)

    return cast(F, plain)


__all__ = ["in_run_config_terms"]
