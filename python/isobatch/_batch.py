"""A batch's output folder, read as Python objects: DataFrames, dicts and absolute paths."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from . import _process
from ._binary import executable
from ._errors import IsobatchError
from ._tables import VERDICTS, read_csv

PROBLEM_KINDS = ["failed", "cancelled", "missing", "warning"]
"""The categories of :attr:`Batch.problems`' ``problem`` column."""


class Batch:
    """A finished or running batch, by its output folder.

    Each property reads the file it names when asked, so a batch still running gives what is
    on disk now. A property is ``None`` when the batch has no such file (no ``.traces`` for an
    exec batch, no ``.memory`` without ``memory_debug=True``, no ``.summary`` before the first
    run ends).
    """

    def __init__(self, output: os.PathLike[str] | str, exit_code: int | None = None):
        self.output: Path = Path(output).resolve()
        """The output folder (absolute)."""
        self.exit_code: int | None = exit_code
        """The exit code of the run that returned this batch (None from :func:`open`)."""

    def __repr__(self) -> str:
        counts = self._counts()
        shown = ", ".join(f"{k}={v}" for k, v in counts.items()) if counts else "no results yet"
        return f"Batch({str(self.output)!r}: {shown})"

    def _counts(self) -> dict[str, int]:
        results = self.results
        return dict(results.get("counts", {})) if results else {}

    def _file(self, *parts: str) -> Path | None:
        path = self.output.joinpath(*parts)
        return path if path.is_file() else None

    def _csv(self, *parts: str) -> pd.DataFrame | None:
        """A CSV file of the batch, typed, or None when the batch has none."""
        path = self._file(*parts)
        return read_csv(path, self._fields()) if path else None

    def _fields(self) -> list[str]:
        """The batch's pattern fields (``sample``, ``dye``...): ids, so read as text."""
        results = self.results or {}
        return sorted({k for t in results.get("tasks", []) for k in t.get("fields", {})})

    @property
    def summary(self) -> pd.DataFrame | None:
        """summary.csv: one row per task; ``verdict``/``status`` categorical, ids as text."""
        return self._csv("summary.csv")

    @property
    def traces(self) -> pd.DataFrame | None:
        """traces.csv (fov pipeline): one row per cell per frame; time columns as floats.

        The time unit is in the column name (``time_min``...) and in ``df.attrs["units"]``.
        """
        return self._csv("traces.csv")

    @property
    def lineage(self) -> pd.DataFrame | None:
        """lineage.csv (fov pipeline): ``fov, cell, parent, frame_born, frame_divided``."""
        return self._csv("lineage.csv")

    @property
    def memory(self) -> pd.DataFrame | None:
        """.isobatch/memory.csv (``memory_debug=True``): one row per attempt, bytes and seconds."""
        return self._csv(".isobatch", "memory.csv")

    @property
    def results(self) -> dict[str, Any] | None:
        """results.json, with every task's ``outputs`` and ``logs`` made absolute paths."""
        path = self._file("results.json")
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as why:
            raise ValueError(f"{path}: not valid JSON: {why}") from None
        for task in data.get("tasks", []):
            for key in ("outputs", "logs"):
                if isinstance(task.get(key), list):
                    task[key] = [str(self.output / p) for p in task[key]]
        return data

    @property
    def problems(self) -> pd.DataFrame | None:
        """What went wrong: one row per failed, cancelled or missing task and per QC warning.

        Columns: ``task``, ``problem`` (failed/cancelled/missing/warning), ``verdict``,
        ``attempts``, ``message``, ``log`` (absolute path of the latest attempt's log, or "").
        Empty when everything was done without warnings.
        """
        results = self.results
        if results is None:
            return None
        rows = []
        for task in results.get("tasks", []):
            verdict = task.get("verdict", "")
            kind = _problem_kind(verdict)
            logs = task.get("logs") or [""]
            row = {
                "task": str(task.get("task", "")),
                "verdict": verdict,
                "attempts": task.get("attempts"),
                "log": logs[-1],
            }
            if kind:
                rows.append({**row, "problem": kind, "message": task.get("message", "")})
            for warning in task.get("warnings") or []:
                text = warning if isinstance(warning, str) else json.dumps(warning)
                rows.append({**row, "problem": "warning", "message": text})
        columns = ["task", "problem", "verdict", "attempts", "message", "log"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["problem"] = pd.Categorical(frame["problem"], categories=PROBLEM_KINDS)
        known = VERDICTS + sorted(set(frame["verdict"]) - set(VERDICTS))
        frame["verdict"] = pd.Categorical(frame["verdict"], categories=known)
        frame["attempts"] = frame["attempts"].astype("Int64")
        frame = frame.astype({"task": str, "message": str, "log": str})
        return frame

    @property
    def report_path(self) -> Path:
        """OUTPUT/report.html, written now by ``isobatch report`` (so it shows the batch as
        it is, live runs included); raises :class:`IsobatchError` when nothing can be shown.
        """
        done = _process.capture(executable(), ["report", str(self.output)])
        if done.exit_code != 0:
            raise IsobatchError(done.exit_code, "\n".join(done.stderr).strip())
        return self.output / "report.html"

    def status(self) -> dict[str, Any]:
        """``isobatch status --json``: the journal's view of a running or finished batch.

        Keys include ``state``, ``counts``, ``running``, ``failures``, ``warnings`` and ``eta_s``.
        """
        done = _process.capture(executable(), ["status", str(self.output), "--json"])
        if done.exit_code != 0:
            raise IsobatchError(done.exit_code, "\n".join(done.stderr).strip())
        try:
            return json.loads("\n".join(done.stdout))
        except json.JSONDecodeError as why:
            raise IsobatchError(done.exit_code, f"isobatch status printed no JSON: {why}") from None


def _problem_kind(verdict: str) -> str | None:
    if verdict.startswith("failed"):
        return "failed"
    if verdict in ("cancelled", "missing"):
        return verdict
    return None
