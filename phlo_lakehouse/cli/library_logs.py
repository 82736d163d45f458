"""Silence libraries that log a connection failure (with its traceback) before raising it.

thrift's socket transport logs "Could not connect to any of …" (sometimes with a traceback) on
stderr and then raises; the CLI reports the raised error as its two ``error:``/``hint:`` lines,
so without ``--debug`` the library's own log lines are suppressed for the command's duration.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

#: Loggers whose records duplicate an error the CLI reports itself.
NOISY_LOGGERS = ("thrift",)


@contextlib.contextmanager
def quiet_library_logs(quiet: bool) -> Iterator[None]:
    """While active (and ``quiet``), `NOISY_LOGGERS` and their children log nothing.

    Example:
        >>> with quiet_library_logs(True):
        ...     logging.getLogger("thrift.transport.TSocket").isEnabledFor(logging.CRITICAL)
        False
    """
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS] if quiet else []
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)  # child loggers inherit the level
    try:
        yield
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)
