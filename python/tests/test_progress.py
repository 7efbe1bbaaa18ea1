"""What a batch shows: a bar advanced by the CLI's [i/N] lines, failures printed (no binary)."""

from __future__ import annotations

import io

import pytest

from isobatch._progress import Display, choose

LINES = [
    "isobatch plan",
    "  tasks:     3 found, 3 to run, 0 up to date",
    "[1/3 done 1 · failed 0 · running 2 · left 0 · eta 1.0s] fov01: done (142ms, peak 5.04 MiB)",
    (
        "[2/3 done 1 · failed 1 · running 1 · left 0 · eta 1.0s] fov02: failed:timeout"
        " (1.0s, peak 5 MiB) — over 1s"
    ),
    "[3/3 done 1 · failed 1 · cancelled 1 · running 0 · left 0] fov03: cancelled (1ms, peak 0 B)",
]


def test_bar_opens_after_the_plan_counts_tasks_and_prints_only_what_needs_reading():
    stream = io.StringIO()
    display = Display("bar", stream)
    for line in LINES[:2]:
        display.line(line)
    assert display._bar is None  # the plan prints plainly
    display.idle()
    assert (display._bar.n, display._bar.total) == (0, 3)
    for line in LINES[2:4]:
        display.line(line)
    assert (display._bar.n, display._bar.total) == (2, 3)
    display.line(LINES[4])
    assert display._bar is None  # every task finished: the summary prints plainly
    display.line("isobatch: 3 task(s) in 1s")
    display.idle()
    assert display._bar is None
    shown = stream.getvalue()
    assert "] fov02: failed:timeout (" in shown and "isobatch plan" in shown
    assert "] fov01: done (" not in shown  # a done line is not printed, only counted
    assert "3/3" in shown
    assert shown.endswith("isobatch: 3 task(s) in 1s\n")


def test_plain_passes_every_line_and_none_nothing():
    plain, none = io.StringIO(), io.StringIO()
    for mode, stream in (("plain", plain), ("none", none)):
        display = Display(mode, stream)
        for line in LINES:
            display.line(line)
        display.close()
    assert plain.getvalue().splitlines() == LINES
    assert none.getvalue() == ""


def test_auto_is_plain_outside_a_notebook_and_bad_modes_are_refused():
    assert choose("auto") == "plain"
    with pytest.raises(ValueError, match="progress must be"):
        Display("fancy")
