"""The CLI's progress bar (click.progressbar): drawn in place on a terminal, the label once
elsewhere, nothing when disabled; its figures count the work the caller reports."""

from __future__ import annotations

import io

from phlo_lakehouse.cli.output import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place_up_to_the_total():
    stream = _Terminal()
    with Progress("vacuum raw.a", total=4, unit="files", total_bytes=2048, stream=stream) as bar:
        bar.advance(1, 512)
        bar.advance(3, 1536)
    text = stream.getvalue()
    assert text.count("\r") >= 3  # the first draw and one per advance, each in place
    assert text.endswith("\n")
    assert "vacuum raw.a" in text
    assert "25%" in text and "100%" in text
    assert "1/4 files  512 B/2.0 KiB" in text
    last_draw = text.rsplit("\r", 1)[-1]
    assert "[" + "#" * Progress.width + "] 100%  4/4 files  2.0 KiB/2.0 KiB" in last_draw


def test_off_a_terminal_only_the_label_is_printed_once():
    stream = io.StringIO()
    with Progress("optimize raw.a", total=2, unit="files", stream=stream) as bar:
        bar.advance(1)
        bar.advance(1)
    text = stream.getvalue()
    assert text.count("optimize raw.a") == 1
    assert "\r" not in text and "%" not in text
    assert bar.done == 2


def test_disabled_draws_nothing_and_still_counts_never_past_the_total():
    stream = _Terminal()
    with Progress("expire raw.a", total=3, unit="snapshots", enabled=False, stream=stream) as bar:
        bar.advance(2, 10)
        bar.advance(5)
    assert stream.getvalue() == ""
    assert (bar.done, bar.done_bytes) == (3, 10)
    assert bar.figures() == "3/3 snapshots"
