"""Reading isobatch's CSV files: units, ids as text, errors naming the file (no binary needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from isobatch._tables import read_csv


def test_time_column_named_with_its_unit(tmp_path: Path):
    path = tmp_path / "traces.csv"
    path.write_text("fov,cell,frame,time_min,intensity_total_gfp\n007,1,0,0,12.5\n007,1,1,10,13\n")
    frame = read_csv(path)
    assert list(frame["fov"]) == ["007", "007"]
    assert frame["time_min"].dtype == "float64" and list(frame["time_min"]) == [0.0, 10.0]
    assert frame.attrs["units"] == {"time_min": "min"}
    assert frame["intensity_total_gfp"].dtype == "float64"


def test_leading_unit_comment_is_kept_not_read_as_data(tmp_path: Path):
    path = tmp_path / "traces.csv"
    path.write_text("# time: minutes\nfov,cell,frame,time,parent\nA,2,0,0.5,\nA,3,1,1,2\n")
    frame = read_csv(path)
    assert frame.attrs["units"] == {"time": "minutes"}
    assert frame["time"].dtype == "float64"
    assert frame["parent"].dtype == "Int64" and frame["parent"].isna().tolist() == [True, False]


def test_summary_types_and_result_columns(tmp_path: Path):
    path = tmp_path / "summary.csv"
    path.write_text(
        "task,status,verdict,attempts,duration_s,peak_rss_bytes,message,cells,scale,ok\n"
        '01,done,done,1,0.5,100,,7,0.25,true\n02,failed,failed:timeout,2,60,,"a, b",,,false\n'
    )
    frame = read_csv(path)
    assert list(frame["task"]) == ["01", "02"]
    assert isinstance(frame["verdict"].dtype, pd.CategoricalDtype)
    assert "failed:crashed" in frame["verdict"].cat.categories
    assert frame["cells"].dtype == "Int64" and frame["scale"].dtype == "float64"
    assert frame["ok"].dtype == "boolean"
    assert list(frame["message"]) == ["", "a, b"]
    assert frame["peak_rss_bytes"].isna().tolist() == [False, True]


def test_unknown_verdict_is_kept(tmp_path: Path):
    path = tmp_path / "summary.csv"
    path.write_text("task,verdict\na,failed:new-kind\n")
    assert list(read_csv(path)["verdict"]) == ["failed:new-kind"]


def test_bad_number_names_file_and_column(tmp_path: Path):
    path = tmp_path / "lineage.csv"
    path.write_text("fov,cell,parent\nA,1,x\n")
    with pytest.raises(ValueError, match=r"lineage\.csv: column 'parent'"):
        read_csv(path)
