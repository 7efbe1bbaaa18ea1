"""The demo run from Python: the DataFrames hold what the CSV files hold, with the right types."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import DEMO_PARAMS

import isobatch


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    return rows[0], rows[1:]


def _same(cell: str, value) -> bool:
    if cell == "":
        return value is pd.NA or (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return cell == value
    return math.isclose(float(cell), float(value), rel_tol=0, abs_tol=0)


def test_traces_equal_traces_csv(demo_batch):
    traces = demo_batch.traces
    header, rows = _csv_rows(demo_batch.output / "traces.csv")
    assert list(traces.columns) == header
    assert len(traces) == len(rows) > 0
    for i, row in enumerate(rows):
        for column, cell in zip(header, row):
            value = traces[column].iloc[i]
            assert _same(cell, value), (i, column, cell, value)


def test_types_on_load(demo_batch):
    traces = demo_batch.traces
    assert pd.api.types.is_string_dtype(traces["fov"])
    time_columns = [c for c in traces.columns if c == "time" or c.startswith("time_")]
    assert time_columns == ["time_min"], traces.columns
    for column in time_columns:
        assert traces[column].dtype == "float64"
        assert column in traces.attrs["units"]
    assert traces["cell"].dtype == "Int64"
    summary = demo_batch.summary
    assert isinstance(summary["verdict"].dtype, pd.CategoricalDtype)
    assert set(isobatch.VERDICTS) <= set(summary["verdict"].cat.categories)
    assert list(summary["verdict"]) == ["done"] * 3
    assert pd.api.types.is_string_dtype(summary["task"])
    assert summary["duration_s"].dtype == "float64"
    lineage = demo_batch.lineage
    assert lineage["parent"].dtype == "Int64"
    assert set(lineage["fov"]) == set(summary["task"])


def test_paths_are_absolute(demo_batch):
    assert demo_batch.output.is_absolute()
    for task in demo_batch.results["tasks"]:
        for path in task["outputs"] + task["logs"]:
            assert Path(path).is_absolute() and Path(path).is_file(), path


def test_reopen_and_rerun_skips(demo_batch, demo):
    again = isobatch.open(demo_batch.output)
    pd.testing.assert_frame_equal(again.traces, demo_batch.traces)
    assert again.status()["state"] == "finished"
    rerun = isobatch.run(demo / "raw", demo_batch.output, params=DEMO_PARAMS, progress="none")
    assert list(rerun.summary["verdict"]) == ["skipped"] * 3
    assert rerun.problems.empty


def test_memory_debug_gives_memory_frame(demo, tmp_path):
    batch = isobatch.run(demo / "raw", tmp_path / "out", memory_debug=True, progress="none")
    memory = batch.memory
    assert sorted(memory["task"]) == sorted(batch.summary["task"])
    assert memory["peak_rss_bytes"].dtype == "Int64"
    assert (memory["peak_rss_bytes"] > 0).all()
    assert isobatch.run(demo / "raw", tmp_path / "plain", progress="none").memory is None


def test_refusals_raise_with_exit_code_and_message(demo, tmp_path):
    with pytest.raises(isobatch.IsobatchError) as refused:
        isobatch.run(tmp_path / "absent", tmp_path / "out", progress="none")
    assert refused.value.exit_code == 2
    assert "does not exist" in refused.value.message
    with pytest.raises(isobatch.IsobatchError) as unknown:
        isobatch.run(demo / "raw", tmp_path / "out", no_such_flag=True, progress="none")
    assert unknown.value.exit_code == 2
    assert "--no-such-flag" in unknown.value.message
    with pytest.raises(TypeError):
        isobatch.run(demo / "raw", tmp_path / "out", json=True)
    with pytest.raises(isobatch.IsobatchError) as not_batch:
        isobatch.open(tmp_path)
    assert not_batch.value.exit_code == 2


def test_report_path_is_written(demo_batch):
    path = demo_batch.report_path
    assert path.is_absolute() and path.is_file() and path.name == "report.html"
    assert "<svg" in path.read_text()
