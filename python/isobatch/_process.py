"""Runs one isobatch command as a child process, streaming its lines and forwarding Ctrl-C.

The child gets a session of its own, so a terminal's Ctrl-C or a Jupyter kernel interrupt
reaches only Python; Python then sends exactly one SIGINT per interrupt, which the supervisor
reads as documented: the first starts nothing new and lets running tasks finish, the second
cancels them. Either way the journal stays consistent and the same run resumes the batch.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ._progress import Display

_POLL_S = 0.2
_READER_JOIN_S = 5.0


@dataclass
class Finished:
    """How a command ended: its exit code, what it printed, and how often it was interrupted."""

    exit_code: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    interrupts: int = 0


def capture(program: Path, args: list[str]) -> Finished:
    """Runs a short command (status, report) to its end and returns what it printed."""
    done = subprocess.run(
        [str(program), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    return Finished(done.returncode, done.stdout.splitlines(), done.stderr.splitlines())


def stream(program: Path, args: list[str], display: Display) -> Finished:
    """Runs a batch, shows its lines on ``display`` and forwards each KeyboardInterrupt.

    Returns once the child has exited; the caller re-raises KeyboardInterrupt when
    ``interrupts`` is non-zero.
    """
    child = subprocess.Popen(
        [str(program), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    readers = [
        _reader(child.stdout, "stdout", lines),
        _reader(child.stderr, "stderr", lines),
    ]
    result = Finished(exit_code=-1)
    try:
        while True:
            try:
                _pump(child, lines, display, result)
                break
            except KeyboardInterrupt:
                result.interrupts += 1
                if child.poll() is None:
                    # isobatch prints what this interrupt does (drain, then cancel).
                    child.send_signal(signal.SIGINT)
    finally:
        if child.poll() is None:
            # Leaving for another reason than Ctrl-C (an error in display code): cancel
            # cleanly rather than leave a batch running unseen. Two different signals, as two
            # pending SIGINTs could merge into one (isobatch counts SIGINT and SIGTERM alike).
            child.send_signal(signal.SIGINT)
            child.send_signal(signal.SIGTERM)
            child.wait()
        for reader in readers:
            reader.join(_READER_JOIN_S)
        _drain(lines, display, result)
        display.close()
    result.exit_code = child.returncode
    return result


def _reader(pipe: IO[str] | None, name: str, lines: queue.Queue) -> threading.Thread:
    def read() -> None:
        assert pipe is not None
        with pipe:
            for line in pipe:
                lines.put((name, line.rstrip("\n")))

    thread = threading.Thread(target=read, name=f"isobatch-{name}", daemon=True)
    thread.start()
    return thread


def _pump(child: subprocess.Popen, lines: queue.Queue, display: Display, result: Finished):
    while True:
        try:
            name, text = lines.get(timeout=_POLL_S)
        except queue.Empty:
            if child.poll() is not None:
                return
            display.idle()
            continue
        _take(name, text, display, result)


def _drain(lines: queue.Queue, display: Display, result: Finished) -> None:
    while True:
        try:
            name, text = lines.get_nowait()
        except queue.Empty:
            return
        _take(name, text, display, result)


def _take(name: str, text: str, display: Display, result: Finished) -> None:
    (result.stdout if name == "stdout" else result.stderr).append(text)
    display.line(text)
