"""What the user sees while a batch runs: a tqdm bar in a notebook, the CLI's lines elsewhere.

The CLI runs with ``--progress plain``: one line per finished task, ``[i/N done D · … ] TASK:
VERDICT (...)``, after the plan. A bar advances on those lines and prints the ones worth reading
(failures, warnings, the plan); plain mode passes every line through.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from typing import TextIO

_FINISHED = re.compile(r"^\[(?P<i>\d+)/(?P<n>\d+)[^\]]*\] (?P<task>\S+): (?P<verdict>\S+)")
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
    """Shows the CLI's stderr lines as ``mode`` says: ``bar``, ``plain`` or ``none``.

    In ``bar`` mode the plan is printed as it comes, the bar opens once the plan is complete
    (the first quiet moment or the first finished task) and closes when every task finished,
    so the summary that follows prints as plain text.
    """

    def __init__(self, mode: str, stream: TextIO | None = None) -> None:
        if mode not in ("bar", "plain", "none"):
            raise ValueError(f"progress must be 'auto', 'bar', 'plain' or 'none', not {mode!r}")
        self.mode = mode
        self.stream = stream or sys.stderr
        self._bar = None
        self._total: int | None = None
        self._finished = False

    def line(self, text: str) -> None:
        """One line the CLI wrote."""
        if self.mode == "none":
            return
        if self.mode == "plain":
            print(text, file=self.stream, flush=True)
            return
        to_run = _TO_RUN.match(text)
        if to_run:
            self._total = int(to_run.group("n"))
        finished = _FINISHED.match(text)
        if not finished:
            self._write(text)
            return
        done, total = int(finished.group("i")), int(finished.group("n"))
        if finished.group("verdict") not in _QUIET:
            self._write(text)
        bar = self._open(total)
        bar.total = total
        bar.set_postfix_str(f"{finished.group('task')}: {finished.group('verdict')}", refresh=False)
        bar.update(done - bar.n)
        if done >= total:
            self.close()
            self._finished = True

    def idle(self) -> None:
        """Nothing new for a moment: the plan is complete, so the bar can show."""
        if self.mode == "bar" and self._total and not self._finished:
            self._open(self._total)

    def close(self) -> None:
        """Ends the bar, if one was shown."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _open(self, total: int):
        if self._bar is None:
            self._bar = _bar_class()(total=total, unit="task", desc="isobatch", file=self.stream)
        return self._bar

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)


def _bar_class():
    """tqdm's widget bar in a notebook with ipywidgets, else its text bar (no warning)."""
    if in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm
    else:
        from tqdm import tqdm
    return tqdm


def choose(progress: str) -> str:
    """``auto`` → ``bar`` in a notebook, ``plain`` elsewhere; other values as given."""
    if progress == "auto":
        return "bar" if in_notebook() else "plain"
    return progress
