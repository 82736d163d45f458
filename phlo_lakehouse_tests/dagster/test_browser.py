"""The Dagster UI in a real browser: what a platform engineer does with the maintenance job.

Chromium opens ``dagster dev`` (scripts/dagster_dev.sh over a seeded demo lakehouse), goes to
the ``lakehouse_maintenance`` launchpad, switches ``dry_run`` to true in the config editor and
launches; then switches it back and launches for real. Both runs must succeed. The demo table's
asset page must then show the real run's observations by their descriptions, and the stats
check, executed from the asset's Checks tab, its result. Screenshots of every step are kept
under ``test-artifacts/browser/``.
"""

import re

import dagster as dg
import pytest

from phlo_lakehouse.dagster.checks import CHECK_NAME
from phlo_lakehouse.definitions import MAIN_JOB
from phlo_lakehouse.demo import DEMO_TABLE
from phlo_lakehouse_tests.dagster.browser import Browser, chromium
from phlo_lakehouse_tests.dagster.dev_server import DagsterServer, _free_port, running_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

KEY = dg.AssetKey(DEMO_TABLE.split("."))
DRY_RUN_LINE = "//pre[contains(@class, 'CodeMirror-line')][contains(normalize-space(), 'dry_run:')]"
RUN_TIMEOUT = 300
EVENT_ROWS = "//div[contains(@class, 'assetListRow')]"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    # Its own port: a GraphQL test module's server may still be stopping.
    with running_server(tmp_path_factory.mktemp("dagster-browser"), port=_free_port()) as running:
        yield running


def _open_launchpad(page: Browser) -> None:
    page.open("/jobs")
    page.dismiss("Skip")  # Dagster's first-visit "join the community" dialog
    page.click_text(MAIN_JOB)
    page.click_text("Launchpad", "a")
    page.element(DRY_RUN_LINE)


def _launch(page: Browser, shot: str) -> str:
    """Click Launch Run, wait on the run page until the run ends; its id."""
    # The editor validates the config after each edit; the button launches once that is done.
    page.wait_until(
        "the config checked",
        lambda: "No errors" in page.text() and "Checking config" not in page.text(),
    )
    button = page.element("//button[normalize-space()='Launch Run']")
    page.wait_until("Launch Run enabled", button.is_enabled)
    button.click()
    run_id = page.wait_until(
        "the run page", lambda: re.search(r"/runs/([0-9a-f-]{36})", page.driver.current_url)
    ).group(1)
    status = page.wait_for_text(r"\n(Success|Failure|Canceled)\nRun of", RUN_TIMEOUT).group(1)
    page.screenshot(shot)
    assert status == "Success", f"run {run_id} ended {status}"
    return run_id


def _observation_descriptions(server: DagsterServer, run_id: str) -> dict[str, str]:
    with server.instance() as instance:
        records = instance.fetch_observations(KEY, limit=100).records
    return {
        r.asset_observation.metadata["lakehouse/operation"].value: r.asset_observation.description
        for r in records
        if r.run_id == run_id
    }


def test_launchpad_dry_run_then_real_run_then_the_asset_page(
    server: DagsterServer, request: pytest.FixtureRequest
):
    with chromium(server.url, request.node.name) as page:
        _open_launchpad(page)
        editor = page.text()
        # Pre-filled with the factory's settings, not only tables and dry_run.
        for line in ("strategy: binpack", "older_than: 3d", "prefix_mismatch: error"):
            assert line in editor, line
        page.replace_word(DRY_RUN_LINE, "false", "true")
        page.screenshot("launchpad-dry-run")
        dry_id = _launch(page, "dry-run-succeeded")
        page.element("//input[@placeholder='Filter…' or @placeholder='Filter...']").send_keys(
            "would delete"
        )
        page.wait_for_text(r"dry run: vacuum would delete 6 orphan files, [\d.]+ KiB")
        page.screenshot("dry-run-preview")

        _open_launchpad(page)  # the launchpad keeps the edited config: switch it back
        page.replace_word(DRY_RUN_LINE, "true", "false")
        page.screenshot("launchpad-real-run")
        real_id = _launch(page, "real-run-succeeded")

        page.open(f"/assets/{'/'.join(KEY.path)}?view=events")
        page.wait_for_text("Observed in run")
        page.screenshot("asset-events")
        described = _observation_descriptions(server, real_id)
        assert set(described) == {"optimize", "expire", "vacuum"}
        assert described["vacuum"].startswith("vacuum: deleted 6 orphan files, ")
        assert described["optimize"].startswith("optimize: rewrote 100 files (")
        # Each row of the event list opens one observation: read every description.
        shown = set()
        rows = page.driver.find_elements("xpath", EVENT_ROWS)
        assert len(rows) == 3, f"{len(rows)} events: the dry run must not have added any"
        for index in range(len(rows)):
            page.click(f"({EVENT_ROWS})[{index + 1}]")
            shown.add(page.wait_for_text(r"\nDescription\n(.+)\n").group(1))
        page.screenshot("asset-event-selected")
        assert shown == set(described.values())
        assert _observation_descriptions(server, dry_id) == {}

        page.open(f"/assets/{'/'.join(KEY.path)}?view=checks")
        page.click_text("Execute", "button")
        page.wait_for_text(r"\n(Passed|Failed)\n", RUN_TIMEOUT)
        page.screenshot("stats-check")
        text = page.text()
        assert CHECK_NAME in text
        assert "2,500" in text or "2500" in text  # dagster/row_count of the check
