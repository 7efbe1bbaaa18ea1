"""isobatch's CSV files as typed DataFrames.

Every column is read as text first and converted by name, so an id like ``"007"`` stays a
string, an empty cell in a numeric column is a missing value (never ``0``), and a value that does
not fit its column is an error naming the file and the column rather than a silent ``NaN``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

VERDICTS = [
    "done",
    "skipped",
    "missing",
    "failed:error",
    "failed:invalid-input",
    "failed:timeout",
    "failed:memory-limit",
    "failed:killed",
    "failed:crashed",
    "cancelled",
]
"""Every documented verdict, the categories of every ``verdict`` column."""

STATUSES = ["done", "skipped", "missing", "failed", "cancelled"]
"""The coarse status a summary row carries beside its verdict."""

# Columns by name. Anything else is numeric when every value is, else text.
_TEXT = {"task", "fov", "cause", "message", "mode_detail", "inputs", "outputs", "log"}
_INT = {
    "cell",
    "parent",
    "frame",
    "frame_born",
    "frame_divided",
    "attempt",
    "attempts",
    "worker_pid",
    "area_px",
    "measured_px",
    "peak_rss_bytes",
    "rss_before_bytes",
    "rss_after_bytes",
    "estimated_rss_bytes",
}
_FLOAT = {"duration_s", "area", "time"}
_CATEGORY = {"verdict": VERDICTS, "status": STATUSES, "mode": None}
_TIME_COLUMN = re.compile(r"^time_(?P<unit>[A-Za-z]+)$")
_COMMENT = re.compile(r"^#\s*(?P<column>[^:]+?)\s*:\s*(?P<text>.*)$")


def read_csv(path: Path, text_columns: Iterable[str] = ()) -> pd.DataFrame:
    """``path`` as a DataFrame with the types its column names stand for.

    Leading ``# column: description`` lines (the unit note older traces.csv files start with)
    are skipped and kept in ``df.attrs["units"]``; a ``time_<unit>`` column gets its unit there
    too. ``text_columns`` are extra columns kept as text (a batch's pattern fields).
    """
    raw = path.read_text(encoding="utf-8")
    units: dict[str, str] = {}
    lines = raw.splitlines(keepends=True)
    skip = 0
    for line in lines:
        if not line.startswith("#"):
            break
        skip += 1
        note = _COMMENT.match(line.strip())
        if note:
            units[note.group("column")] = note.group("text")
    body = "".join(lines[skip:])
    if not body.strip():
        raise ValueError(f"{path}: no header line")
    frame = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    text = _TEXT | set(text_columns)
    for column in frame.columns:
        frame[column] = _convert(path, column, frame[column], text)
        unit = _TIME_COLUMN.match(column)
        if unit:
            units.setdefault(column, unit.group("unit"))
    frame.attrs["units"] = units
    frame.attrs["source"] = str(path)
    return frame


def _convert(path: Path, column: str, values: pd.Series, text: set[str]) -> pd.Series:
    if column in text:
        return values
    if column in _CATEGORY:
        return _category(values, _CATEGORY[column])
    try:
        if column in _INT:
            return pd.to_numeric(_blank(values)).astype("Int64")
        if column in _FLOAT or _TIME_COLUMN.match(column) or column.endswith("_s"):
            return pd.to_numeric(_blank(values)).astype("float64")
    except (ValueError, TypeError) as why:
        raise ValueError(f"{path}: column {column!r} is not numeric: {why}") from None
    return _infer(values)


def _blank(values: pd.Series) -> pd.Series:
    """Empty cells as missing values."""
    return values.mask(values == "")


def _category(values: pd.Series, known: list[str] | None) -> pd.Series:
    """Categorical with the documented categories first; an unknown value is kept, not lost."""
    seen = [v for v in pd.unique(values) if v != ""]
    categories = list(known or []) + sorted(v for v in seen if v not in (known or []))
    return pd.Categorical(_blank(values), categories=categories)


def _infer(values: pd.Series) -> pd.Series:
    """An unnamed column (a pipeline's result field): integers, floats, booleans or text."""
    present = values[values != ""]
    if present.empty:
        return values
    if present.isin(["true", "false"]).all():
        return values.map({"true": True, "false": False, "": None}).astype("boolean")
    try:
        numbers = pd.to_numeric(_blank(values))
    except (ValueError, TypeError):
        return values
    whole = present.str.fullmatch(r"[+-]?\d+").all()
    return numbers.astype("Int64") if whole else numbers.astype("float64")
