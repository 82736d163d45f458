"""The ``optimize`` flags for Spark 1.10's rewrite options (`operations.rewrite_options`), by
Spark's names: ``--rewrite-job-order``, ``--max-commits``, ``--max-failed-commits``,
``--delete-file-threshold``, ``--[no-]remove-dangling-deletes``,
``--[no-]use-starting-sequence-number``, ``--output-spec-id``. The decorated command receives
them as one ``rewrite_options`` dict of `OptimizeOperation` keyword arguments.

Example:
    $ phlo-lakehouse optimize demo.events --partial-progress --max-commits 3 --yes
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from phlo_lakehouse.operations.rewrite_options import DEFAULT_MAX_COMMITS, JOB_ORDERS

_NAMES = (
    "rewrite_job_order",
    "max_commits",
    "max_failed_commits",
    "delete_file_threshold",
    "remove_dangling_deletes",
    "use_starting_sequence_number",
    "output_spec_id",
)


def rewrite_option_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the rewrite-option flags to ``command`` and pass them as ``rewrite_options``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["rewrite_options"] = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, **kwargs)

    flags = [
        click.option(
            "--rewrite-job-order",
            type=click.Choice(JOB_ORDERS),
            default="none",
            show_default=True,
            help="Order file groups run and commit in.",
        ),
        click.option(
            "--max-commits",
            type=click.IntRange(min=1),
            default=DEFAULT_MAX_COMMITS,
            show_default=True,
            help="With --partial-progress: commit the groups in at most this many commits.",
        ),
        click.option(
            "--max-failed-commits",
            type=click.IntRange(min=0),
            default=None,
            help="With --partial-progress: commits that may fail before the run fails "
            "(default: --max-commits).",
        ),
        click.option(
            "--delete-file-threshold",
            type=click.IntRange(min=1),
            default=None,
            help="Rewrite a data file once this many delete files apply to it.",
        ),
        click.option(
            "--remove-dangling-deletes/--keep-dangling-deletes",
            default=True,
            show_default=True,
            help="Also remove delete files that apply to no live data file.",
        ),
        click.option(
            "--use-starting-sequence-number/--use-commit-sequence-number",
            default=True,
            show_default=True,
            help="Rewritten files keep the starting snapshot's data sequence number.",
        ),
        click.option(
            "--output-spec-id",
            type=click.IntRange(min=0),
            default=None,
            help="Partition spec the files are written in (default: the current one; older "
            "specs' files are rewritten into it).",
        ),
    ]
    for flag in reversed(flags):
        wrapper = flag(wrapper)
    return wrapper
