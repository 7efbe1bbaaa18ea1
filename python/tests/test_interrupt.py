"""Ctrl-C in Python (SIGINT to a Python process running isobatch.run) stops the batch cleanly.

Each task's command waits for a gate file, so the test decides when tasks may finish; every wait
is on a condition (a running task in `isobatch status`, a line isobatch printed) with a deadline.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from conftest import Child, wait_until

import isobatch

GATED = """
import os, sys, time
gate = sys.argv[1]
deadline = time.monotonic() + 120
while not os.path.exists(gate):
    if time.monotonic() > deadline:
        sys.exit("gate never opened")
    time.sleep(0.02)
"""

DRAINING = "starting no new tasks"
CANCELLING = "again: stopping running tasks"


def _start(tmp_path: Path) -> tuple[Child, Path, Path]:
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(4):
        (raw / f"t{i}.txt").write_text(str(i))
    gated = tmp_path / "gated.py"
    gated.write_text(GATED)
    gate = tmp_path / "gate"
    out = tmp_path / "out"
    script = f"""
import sys, isobatch
isobatch.run({str(raw)!r}, {str(out)!r}, pipeline="exec", workers=1, pattern="{{name}}.txt",
             exec=[sys.executable, {str(gated)!r}, {str(gate)!r}], progress="plain")
print("run returned without an interrupt", file=sys.stderr)
"""
    child = Child(script, tmp_path)
    wait_until(lambda: _running(out), "a running task in `isobatch status`")
    return child, out, gate


def _running(out: Path) -> bool:
    try:
        return bool(isobatch.open(out).status()["running"])
    except isobatch.IsobatchError:
        return False  # no journal yet


def _resumes(out: Path, tmp_path: Path, gate: Path) -> None:
    gate.touch()
    raw = tmp_path / "raw"
    gated = tmp_path / "gated.py"
    batch = isobatch.run(
        raw,
        out,
        pipeline="exec",
        workers=1,
        pattern="{name}.txt",
        exec=[sys.executable, str(gated), str(gate)],
        progress="none",
    )
    assert batch.exit_code == 0
    assert set(batch.summary["verdict"]) <= {"done", "skipped"}
    assert batch.problems.empty


def test_one_interrupt_drains_then_reraises(tmp_path):
    child, out, gate = _start(tmp_path)
    child.proc.send_signal(signal.SIGINT)
    wait_until(lambda: child.said(DRAINING), f"isobatch to say {DRAINING!r}")
    gate.touch()  # the running task may finish now; nothing new may start
    code = child.wait()
    assert code != 0
    assert "KeyboardInterrupt" in child.stderr()
    assert "run returned" not in child.stderr()

    batch = isobatch.open(out)
    verdicts = list(batch.summary["verdict"])
    assert verdicts.count("done") == 1 and verdicts.count("cancelled") == 3, verdicts
    assert list(batch.problems["problem"]) == ["cancelled"] * 3
    assert batch.status()["running"] == []
    _resumes(out, tmp_path, gate)


def test_second_interrupt_cancels_running_tasks(tmp_path):
    child, out, gate = _start(tmp_path)
    child.proc.send_signal(signal.SIGINT)
    wait_until(lambda: child.said(DRAINING), f"isobatch to say {DRAINING!r}")
    child.proc.send_signal(signal.SIGINT)
    code = child.wait()
    assert code != 0
    assert child.said(CANCELLING), child.stderr()
    assert "KeyboardInterrupt" in child.stderr()

    batch = isobatch.open(out)
    assert list(batch.summary["verdict"]) == ["cancelled"] * 4
    assert batch.results["interrupted"] is True
    _resumes(out, tmp_path, gate)
