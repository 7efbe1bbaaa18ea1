"""Shared fixtures: the installed binary, a small demo, and waiting on conditions."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import isobatch

DEADLINE_S = 120.0


def wait_until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Polls ``condition`` until it holds; fails the test naming ``what`` after the deadline."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.05)


class Child:
    """A Python child process whose stderr is collected as it comes."""

    def __init__(self, script: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        """True once a stderr line contains ``text``."""
        return any(text in line for line in self.lines)

    def wait(self) -> int:
        """Waits (with the deadline) for the child to exit and returns its exit status."""
        code = self.proc.wait(timeout=DEADLINE_S)
        self._reader.join(DEADLINE_S)
        return code

    def stderr(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """A small synthetic demo (``isobatch demo``): DIR/raw and DIR/truth."""
    root = tmp_path_factory.mktemp("demo")
    subprocess.run(
        [str(isobatch.executable()), "demo", str(root), "--fovs", "3", "--frames", "6"],
        check=True,
        capture_output=True,
    )
    return root


DEMO_PARAMS = {"frame_interval": "10m"}
"""The demo's frame interval (its TIFFs carry none), so traces get a ``time_min`` column."""


@pytest.fixture(scope="session")
def demo_batch(demo: Path, tmp_path_factory) -> isobatch.Batch:
    """The demo, run once from Python."""
    out = tmp_path_factory.mktemp("demo-out") / "processed"
    return isobatch.run(demo / "raw", out, workers=2, params=DEMO_PARAMS, progress="plain")


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
"""What isobatch prints on a first SIGINT."""


class GatedBatch:
    """An exec batch of 4 tasks, one worker, whose commands wait until ``gate`` exists."""

    def __init__(self, root: Path) -> None:
        self.raw = root / "raw"
        self.out = root / "out"
        self.gate = root / "gate"
        self.command = root / "gated.py"
        self.raw.mkdir()
        for i in range(4):
            (self.raw / f"t{i}.txt").write_text(str(i))
        self.command.write_text(GATED)

    def kwargs(self) -> dict:
        """The isobatch.run keyword arguments that run it."""
        return {
            "pipeline": "exec",
            "workers": 1,
            "pattern": "{name}.txt",
            "exec": [sys.executable, str(self.command), str(self.gate)],
        }

    def code(self, progress: str) -> str:
        """Python source that runs it (in a child process or a kernel)."""
        return (
            "import isobatch\n"
            f"isobatch.run({str(self.raw)!r}, {str(self.out)!r}, progress={progress!r}, "
            f"**{self.kwargs()!r})\n"
            "print('run returned without an interrupt')\n"
        )

    def running(self) -> bool:
        """True once `isobatch status` lists a running task."""
        try:
            return bool(isobatch.open(self.out).status()["running"])
        except isobatch.IsobatchError:
            return False  # no journal yet

    def resume(self) -> None:
        """Opens the gate and runs the same batch again: it completes."""
        self.gate.touch()
        batch = isobatch.run(self.raw, self.out, progress="none", **self.kwargs())
        assert batch.exit_code == 0
        assert set(batch.summary["verdict"]) <= {"done", "skipped"}
        assert batch.problems.empty
