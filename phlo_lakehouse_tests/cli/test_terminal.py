"""On a real pseudo-terminal: the progress bar is drawn for table output, and not for
``--format json`` or when stderr is not a terminal; without ``--yes`` the command asks."""

import json
import re

import pytest

from phlo_lakehouse.testing.lakehouses import TableSeed, temporary_lakehouse
from phlo_lakehouse_tests.cli.conftest import cli_env, run_in_terminal, script, table_state

TABLE = "demo.events"
BAR = re.compile(r"\[[#-]{24}\]\s+\d+%")
PROMPT = "Apply these changes? [y/N]:"


@pytest.fixture
def lakehouse(tmp_path):
    seed = TableSeed(TABLE, commits=6, rows_per_commit=50)
    with temporary_lakehouse([seed], home=tmp_path / "lakehouse") as lakehouse:
        yield lakehouse


def cli(*args):
    return [script("phlo-lakehouse"), *args]


def test_progress_bar_on_a_terminal(lakehouse):
    run = run_in_terminal(cli("optimize", TABLE, "--yes"), cli_env(lakehouse))
    assert run.returncode == 0, run.terminal
    assert BAR.search(run.terminal), run.terminal
    assert "optimize demo.events" in run.terminal
    assert "24/24 files" in run.terminal
    assert "[" + "#" * 24 + "] 100%" in run.terminal


def test_progress_bar_for_vacuum_counts_deleted_files(lakehouse):
    from phlo_lakehouse.demo import plant_orphans

    plant_orphans(lakehouse.get_table(TABLE), count=4)
    run = run_in_terminal(cli("vacuum", TABLE, "--yes"), cli_env(lakehouse))
    assert run.returncode == 0, run.terminal
    assert "4/4 files" in run.terminal and BAR.search(run.terminal)


def test_no_progress_bar_for_json(lakehouse):
    run = run_in_terminal(
        cli("optimize", TABLE, "--yes", "--format", "json"), cli_env(lakehouse), stdout_pipe=True
    )
    assert run.returncode == 0, run.terminal
    assert not BAR.search(run.terminal)
    assert "\r" not in run.terminal
    assert json.loads(run.stdout)["results"][0]["committed"] is True


def test_no_progress_bar_when_stderr_is_not_a_terminal(lakehouse):
    run = run_in_terminal(cli("optimize", TABLE, "--yes"), cli_env(lakehouse), stderr_pipe=True)
    assert run.returncode == 0, run.terminal
    assert not BAR.search(run.terminal)
    assert "committed, main now at snapshot" in run.terminal


def test_no_progress_bar_for_a_preview(lakehouse):
    run = run_in_terminal(cli("optimize", TABLE, "--dry-run"), cli_env(lakehouse))
    assert run.returncode == 0, run.terminal
    assert not BAR.search(run.terminal)
    assert "files_to_rewrite:      24" in run.terminal


def test_interactive_yes_applies(lakehouse):
    run = run_in_terminal(cli("optimize", TABLE), cli_env(lakehouse), answers={PROMPT: "y\n"})
    assert run.returncode == 0, run.terminal
    plan_at, prompt_at = run.terminal.index(": plan"), run.terminal.index(PROMPT)
    assert plan_at < prompt_at < run.terminal.index("committed, main now at snapshot")
    assert lakehouse.collect_stats(TABLE).file_count == 4


def test_interactive_no_changes_nothing(lakehouse):
    before = table_state(lakehouse, TABLE)
    run = run_in_terminal(
        cli("expire", TABLE, "--older-than", "0s"), cli_env(lakehouse), answers={PROMPT: "n\n"}
    )
    assert run.returncode == 1, run.terminal
    assert "aborted: nothing changed" in run.terminal
    assert table_state(lakehouse, TABLE) == before


def test_json_never_prompts_even_on_a_terminal(lakehouse):
    before = table_state(lakehouse, TABLE)
    run = run_in_terminal(
        cli("optimize", TABLE, "--format", "json"), cli_env(lakehouse), stdout_pipe=True
    )
    assert run.returncode == 2
    assert PROMPT not in run.terminal
    assert json.loads(run.stdout)["error"]["type"] == "ConfirmationRequired"
    assert table_state(lakehouse, TABLE) == before


def test_no_progress_bar_when_there_is_nothing_to_do(lakehouse):
    run = run_in_terminal(cli("vacuum", TABLE, "--yes"), cli_env(lakehouse))
    assert run.returncode == 0, run.terminal
    assert not BAR.search(run.terminal)
    assert "orphan_files:      0" in run.terminal


def test_phlo_non_interactive_never_prompts(lakehouse, tmp_path):
    env = cli_env(lakehouse, PLUGINS_WHITELIST='["lakehouse"]', PHLO_LOG_FILE_TEMPLATE="")
    before = table_state(lakehouse, TABLE)
    run = run_in_terminal(
        [script("phlo"), "--non-interactive", "lakehouse", "optimize", TABLE], env, cwd=tmp_path
    )
    assert run.returncode == 2, run.terminal
    assert PROMPT not in run.terminal and "pass --yes to apply" in run.terminal
    assert table_state(lakehouse, TABLE) == before
