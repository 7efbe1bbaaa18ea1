"""A notebook-style tour of isobatch from Python (each ``# %%`` block is one notebook cell).

    python examples/notebook_tour.py [WORKDIR]

1. Writes the synthetic demo, runs the fov pipeline on it and plots a few cell traces.
2. Reproduces exo2micro's ``run_batch(samples, dyes, parallel='subprocess',
   timeout_per_task=...)`` with ``isobatch.run(pipeline="exec", ...)``: one protected task per
   sample and dye, each running the lab's own per-image script.

Runs headless (matplotlib's Agg backend); figures are saved as PNG files in WORKDIR.
"""

# %%
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # in Jupyter, drop this line to see the figures inline
import matplotlib.pyplot as plt

import isobatch

work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="isobatch-tour-"))
work.mkdir(parents=True, exist_ok=True)

# %% 1. The demo: write it, run it, look at the tables.
subprocess.run([str(isobatch.executable()), "demo", str(work / "demo"), "--fovs", "4"], check=True)
# The demo's TIFFs carry no frame interval: say it, and traces get a time_min column.
batch = isobatch.run(
    work / "demo" / "raw", work / "demo" / "processed", params={"frame_interval": "10m"}
)
print(batch)
print(batch.summary[["task", "verdict", "duration_s"]])

traces = batch.traces
# time_<unit> when the frame interval is known, else the frame index.
time = next((c for c in traces.columns if c.startswith("time_")), "frame")
intensity = next(c for c in traces.columns if c.startswith("intensity_mean_"))
print(f"{len(traces)} rows; {time} is in {traces.attrs['units'].get(time, 'frames')}")

# %% Plot a few traces: mean intensity over time for the first cells of the first FOV.
fov = traces["fov"].iloc[0]
fig, ax = plt.subplots(figsize=(6, 4))
for cell, rows in traces[traces["fov"] == fov].groupby("cell"):
    if cell > 5:
        break
    ax.plot(rows[time], rows[intensity], marker="o", label=f"cell {cell}")
ax.set(xlabel=time, ylabel=intensity, title=f"{fov}: first cells")
ax.legend()
figure = work / "traces.png"
fig.savefig(figure, dpi=80)
print(f"plot: {figure}")

# %% 2. exo2micro's run_batch(samples, dyes, parallel='subprocess', timeout_per_task=...).
# The lab's per-image step stays a script of its own; isobatch runs it once per sample x dye,
# each in its own process with a timeout, journals the results and resumes after a crash.
ANALYSE = """
import json, os, sys
image, task_dir = sys.argv[1], sys.argv[2]
size = os.path.getsize(image)              # stands in for exo2micro's per-image analysis
with open(os.path.join(task_dir, "result.json"), "w") as f:
    json.dump({"bytes": size}, f)
print(f"analysed {image}: {size} bytes")
"""
script = work / "analyse_one.py"
script.write_text(ANALYSE)


def run_batch(samples, dyes, parallel="subprocess", timeout_per_task=600):
    """exo2micro's signature, on isobatch: returns the summary as a DataFrame."""
    result = isobatch.run(
        work / "stains",
        work / "stains-processed",
        pipeline="exec",
        mode=parallel,
        timeout=timeout_per_task,
        pattern="{sample}/{sample}_{dye}_*.tif",
        grid={"sample": samples, "dye": dyes},
        exec=[sys.executable, str(script), "{input}", "{task_dir}"],
        retries=1,
    )
    if not result.problems.empty:
        print(result.problems[["task", "verdict", "message"]])
    return result.summary


# Lay out one image per sample and dye (here: copies of the demo's FOVs).
fovs = sorted((work / "demo" / "raw").glob("*.tif"))
samples, dyes = ["S01", "S02"], ["dapi", "gfp"]
for i, (sample, dye) in enumerate((s, d) for s in samples for d in dyes):
    folder = work / "stains" / sample
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(fovs[i % len(fovs)], folder / f"{sample}_{dye}_01.tif")

summary = run_batch(samples, dyes, parallel="subprocess", timeout_per_task=600)
print(summary)
if not (summary["verdict"].isin(["done", "skipped"])).all():
    sys.exit("some exo2micro-style tasks failed")
