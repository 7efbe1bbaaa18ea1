"""Ctrl-C in Python (SIGINT to a Python process running isobatch.run) stops the batch cleanly.

Each task's command waits for a gate file, so the test decides when tasks may finish; every wait
is on a condition (a running task in `isobatch status`, a line isobatch printed) with a deadline.
"""

from __future__ import annotations

import signal

import pytest
from conftest import DRAINING, Child, GatedBatch, wait_until

import isobatch
from isobatch._progress import Display

CANCELLING = "again: stopping running tasks"


def _start(tmp_path) -> tuple[Child, GatedBatch]:
    batch = GatedBatch(tmp_path)
    child = Child(batch.code("plain"), tmp_path)
    wait_until(batch.running, "a running task in `isobatch status`")
    return child, batch


def test_one_interrupt_drains_then_reraises(tmp_path):
    child, gated = _start(tmp_path)
    child.proc.send_signal(signal.SIGINT)
    wait_until(lambda: child.said(DRAINING), f"isobatch to say {DRAINING!r}")
    gated.gate.touch()  # the running task may finish now; nothing new may start
    assert child.wait() != 0
    assert "KeyboardInterrupt" in child.stderr()

    batch = isobatch.open(gated.out)
    verdicts = list(batch.summary["verdict"])
    assert verdicts.count("done") == 1 and verdicts.count("cancelled") == 3, verdicts
    assert list(batch.problems["problem"]) == ["cancelled"] * 3
    assert batch.status()["running"] == []
    gated.resume()


def test_second_interrupt_cancels_running_tasks(tmp_path):
    child, gated = _start(tmp_path)
    child.proc.send_signal(signal.SIGINT)
    wait_until(lambda: child.said(DRAINING), f"isobatch to say {DRAINING!r}")
    child.proc.send_signal(signal.SIGINT)
    assert child.wait() != 0
    assert child.said(CANCELLING), child.stderr()
    assert "KeyboardInterrupt" in child.stderr()

    batch = isobatch.open(gated.out)
    assert list(batch.summary["verdict"]) == ["cancelled"] * 4
    assert batch.results["interrupted"] is True
    gated.resume()


def test_an_error_on_the_python_side_cancels_the_batch(tmp_path, monkeypatch):
    gated = GatedBatch(tmp_path)
    shown = Display.line

    def breaks_on_the_plan(self, text):
        if text.lstrip().startswith("exec:"):
            wait_until(gated.running, "a running task in `isobatch status`")
            raise RuntimeError("the display broke")
        shown(self, text)

    monkeypatch.setattr(Display, "line", breaks_on_the_plan)
    with pytest.raises(RuntimeError, match="the display broke"):
        isobatch.run(gated.raw, gated.out, progress="plain", **gated.kwargs())
    batch = isobatch.open(gated.out)
    assert set(batch.summary["verdict"]) == {"cancelled"}
    assert batch.status()["running"] == []
    monkeypatch.undo()
    gated.resume()
