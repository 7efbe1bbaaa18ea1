"""What the user sees while a batch runs: a tqdm bar in a notebook, the CLI's plain lines elsewhere.

The CLI runs with ``--progress plain``: one line per finished task, ``[i/N] TASK attempt A:
VERDICT ...``, after the plan. A bar advances on those lines and prints the ones worth reading
(failures, warnings, the plan); plain mode passes every line through.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

_FINISHED = re.compile(r"^\[(?P<i>\d+)/(?P<n>\d+)\] (?P<task>\S+) attempt \d+: (?P<verdict>\S+)")
_TO_RUN = re.compile(r"^\s*tasks:.*?(?P<n>\d+) to run")
_QUIET = {"done", "skipped"}


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    get = getattr(shell, "get_ipython", None)
    ip = get() if get else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class Display:
    """Shows the CLI's stderr lines as ``mode`` says: ``bar``, ``plain`` or ``none``."""

    def __init__(self, mode: str, stream: TextIO | None = None) -> None:
        if mode not in ("bar", "plain", "none"):
            raise ValueError(f"progress must be 'auto', 'bar', 'plain' or 'none', not {mode!r}")
        self.mode = mode
        self.stream = stream or sys.stderr
        self._bar = None

    def line(self, text: str) -> None:
        """One line the CLI wrote to stderr."""
        if self.mode == "none":
            return
        if self.mode == "plain":
            print(text, file=self.stream, flush=True)
            return
        finished = _FINISHED.match(text)
        to_run = _TO_RUN.match(text)
        if to_run and self._bar is None:
            self._open(int(to_run.group("n")))
        if finished:
            bar = self._open(int(finished.group("n")))
            bar.total = int(finished.group("n"))
            bar.n = int(finished.group("i"))
            bar.set_postfix_str(f"{finished.group('task')}: {finished.group('verdict')}")
            bar.refresh()
            if finished.group("verdict") in _QUIET:
                return
        self._write(text)

    def close(self) -> None:
        """Ends the bar, if one was shown."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _open(self, total: int):
        if self._bar is None:
            from tqdm import tqdm as text_bar
            from tqdm.auto import tqdm as auto_bar

            options = {"total": total, "unit": "task", "desc": "isobatch", "file": self.stream}
            try:
                self._bar = auto_bar(**options)
            except ImportError:
                # A notebook without ipywidgets: tqdm's widget bar cannot show; a text bar can.
                self._bar = text_bar(**options)
        return self._bar

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)


def choose(progress: str) -> str:
    """``auto`` → ``bar`` in a notebook, ``plain`` elsewhere; other values as given."""
    if progress == "auto":
        return "bar" if in_notebook() else "plain"
    return progress
