"""An exec batch whose command fails for one task: the failure is in .problems, typed."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import isobatch

SCRIPT = """
import json, os, sys
name = os.path.basename(sys.argv[1])
if name.startswith("bad"):
    print("cannot read", name, file=sys.stderr)
    sys.exit(3)
with open(os.path.join(os.environ["ISOBATCH_TASK_DIR"], "result.json"), "w") as f:
    json.dump({"cells": 7}, f)
"""


def test_failed_command_is_a_problem(tmp_path: Path):
    raw = tmp_path / "raw"
    for sample in ("007", "008"):
        for dye in ("dapi", "gfp"):
            (raw / sample).mkdir(parents=True, exist_ok=True)
            prefix = "bad" if (sample, dye) == ("008", "gfp") else "ok"
            (raw / sample / f"{prefix}_{sample}_{dye}_1.tif").write_bytes(b"II*\x00")
    script = tmp_path / "analyse.py"
    script.write_text(SCRIPT)
    batch = isobatch.run(
        raw,
        tmp_path / "out",
        pipeline="exec",
        exec=[sys.executable, str(script), "{input}", "{task_dir}"],
        pattern="{sample}/*_{sample}_{dye}_*.tif",
        grid={"sample": ["007", "008"], "dye": ["dapi", "gfp"]},
        timeout=60,
        progress="plain",
    )
    assert batch.exit_code == 1
    problems = batch.problems
    assert list(problems["task"]) == ["008_gfp"]
    row = problems.iloc[0]
    assert row["problem"] == "failed" and row["verdict"] == "failed:error"
    assert "exited with status 3" in row["message"] and "cannot read" in row["message"]
    assert Path(row["log"]).is_absolute() and "cannot read" in Path(row["log"]).read_text()
    assert isinstance(problems["verdict"].dtype, pd.CategoricalDtype)

    summary = batch.summary.set_index("task")
    # Ids stay text: "007" is not the number 7.
    assert sorted(summary.index) == ["007_dapi", "007_gfp", "008_dapi", "008_gfp"]
    assert summary.loc["008_gfp", "verdict"] == "failed:error"
    assert (summary.drop("008_gfp")["verdict"] == "done").all()
    fields = [t["fields"] for t in batch.results["tasks"]]
    assert {"sample": "007", "dye": "dapi"} in fields
