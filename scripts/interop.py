#!/usr/bin/env python3
"""Check that numpy/tifffile/pandas and isobatch's outputs agree.

    interop.py DIR                 compare every X.npy in DIR with its sibling X.tif
    interop.py --make-inputs DIR   write tifffile-made TIFFs + expected .npy for Rust
    interop.py --outputs OUT --frame-interval-min M
                                   load every file of a fov batch's output folder
                                   with the obvious call and compare values across files

Compare mode loads X.npy with numpy.load(mmap_mode='r') and X.tif with
tifffile.imread, and checks shape, dtype and values; one line per pair; exit
status 1 on any mismatch (or when DIR holds no pair). A TIFF that tifffile
reads as an ImageJ hyperstack (T, C, H, W) is compared with an npy of
(T*C, H, W) pages.

Make-inputs mode writes 64x48 px stacks of 3 frames x 2 channels in uint8,
uint16 and float32 with compression none/lzw/zlib (Deflate)/packbits as
ImageJ hyperstacks, plus BigTIFF, tiled and predictor variants and a plain
uint32 stack; each X.tif gets an X.npy holding the expected (T*C, H, W) pages.
Rust checks them with ISOBATCH_INTEROP_DIR=DIR cargo test interop.

Outputs mode: pandas.read_csv (no arguments) for every CSV, json.load for
results.json and columns.json, numpy.load for .npy, tifffile.imread for .tif;
then: the combined traces.csv and lineage.csv are the per-task files' rows;
time_min = frame x M; intensity_mean x measured_px = intensity_total; area_px
is the pixel count of the cell's label in track_labels; summary.csv has
results.json's tasks and verdicts; columns.json lists exactly each CSV's
columns. Any difference fails with a message naming the file and the values.

Needs numpy, tifffile, imagecodecs (tifffile's LZW/PackBits codecs) and pandas:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy tifffile imagecodecs pandas
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import tifffile

T, C, H, W = 3, 2, 48, 64


def sample(rng, dtype):
    """Noise plus flat runs, so every compressor sees both."""
    if np.dtype(dtype).kind == "f":
        a = rng.normal(100.0, 30.0, (T, C, H, W)).astype(dtype)
    else:
        top = np.iinfo(dtype).max
        a = rng.integers(0, top, (T, C, H, W), dtype=dtype, endpoint=True)
    a[..., :8, :] = a[..., :1, :1]
    return a


def save(out, name, pages, tif_array, **kwargs):
    tifffile.imwrite(out / f"{name}.tif", tif_array, **kwargs)
    np.save(out / f"{name}.npy", np.ascontiguousarray(pages))
    print(f"wrote {name}.tif + {name}.npy")


def make_inputs(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for dtype in (np.uint8, np.uint16, np.float32):
        dname = np.dtype(dtype).name
        for comp in (None, "lzw", "zlib", "packbits"):
            a = sample(rng, dtype)
            pages = a.reshape(T * C, H, W)
            save(out, f"tf_{dname}_{comp or 'none'}_hyperstack", pages, a,
                 imagej=True, metadata={"axes": "TCYX"}, compression=comp)
        pages = sample(rng, dtype).reshape(T * C, H, W)
        save(out, f"tf_{dname}_none_bigtiff", pages, pages, bigtiff=True)
        save(out, f"tf_{dname}_zlib_predictor", pages, pages,
             compression="zlib", predictor=True)
        save(out, f"tf_{dname}_lzw_tiled", pages, pages, compression="lzw", tile=(16, 16))
    pages = sample(rng, np.uint32).reshape(T * C, H, W)
    save(out, "tf_uint32_none", pages, pages)
    return 0


def describe(tif: Path) -> str:
    with tifffile.TiffFile(tif) as t:
        page = t.pages[0]
        bits = [page.compression.name.lower()]
        if t.is_bigtiff:
            bits.append("bigtiff")
        meta = t.imagej_metadata
        if meta:
            dims = [f"{k}={meta[k]}" for k in ("channels", "frames", "slices") if k in meta]
            bits.append("imagej " + " ".join(dims))
        return ", ".join(bits)


def compare(folder: Path) -> int:
    pairs = sorted(p for p in folder.glob("*.npy") if p.with_suffix(".tif").exists())
    if not pairs:
        print(f"no X.npy with a sibling X.tif in {folder}")
        return 1
    failures = 0
    for npy in pairs:
        tif = npy.with_suffix(".tif")
        problems = []
        try:
            a = np.load(npy, mmap_mode="r")
            b = tifffile.imread(tif)
            if b.shape != a.shape and b.size == a.size and b.shape[-2:] == a.shape[-2:]:
                b = b.reshape(a.shape)  # (T, C, H, W) hyperstack vs (T*C, H, W) pages
            if a.shape != b.shape:
                problems.append(f"shape npy {a.shape} vs tif {b.shape}")
            if a.dtype != b.dtype:
                problems.append(f"dtype npy {a.dtype} vs tif {b.dtype}")
            if not problems and not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                differ = int(np.count_nonzero(np.asarray(a) != b))
                problems.append(f"{differ} of {a.size} values differ")
            info = f"{a.dtype} {a.shape} tif[{describe(tif)}]"
        except Exception as exc:  # a file either side cannot read is a mismatch too
            problems.append(f"{type(exc).__name__}: {exc}")
            info = ""
        status = "ok" if not problems else "MISMATCH"
        print(f"{status} {npy.stem}: {info} {'; '.join(problems)}".rstrip())
        failures += bool(problems)
    print(f"{len(pairs) - failures} passed, {failures} failed")
    return 1 if failures else 0


class Mismatch(Exception):
    """An output file disagrees with another (or cannot be read)."""


def check(cond, what):
    if not cond:
        raise Mismatch(what)


def outputs(out: Path, interval_min: float) -> int:
    """Loads every file of a fov batch's output folder; compares across files."""
    import pandas as pd

    results = json.load(open(out / "results.json"))
    columns = json.load(open(out / "columns.json"))
    summary = pd.read_csv(out / "summary.csv")
    check(len(summary) == len(results["tasks"]),
          f"summary.csv has {len(summary)} tasks, results.json {len(results['tasks'])}")
    check(list(summary["task"]) == [t["task"] for t in results["tasks"]],
          "summary.csv and results.json list other tasks")
    check(list(summary["verdict"]) == [t["verdict"] for t in results["tasks"]],
          "summary.csv and results.json disagree on verdicts")
    check(results["counts"].get("done", 0) + results["counts"].get("skipped", 0)
          == int(summary["status"].isin(["done", "skipped"]).sum()),
          f"results.json counts {results['counts']} vs summary.csv statuses")
    done = [t for t in results["tasks"] if t["status"] in ("done", "skipped")]
    check(done, "no task done")

    described = {f["file"]: [c["name"] for c in f["columns"]] for f in columns["files"]}
    for name in ("traces.csv", "lineage.csv", "summary.csv", ".isobatch/memory.csv"):
        if (out / name).exists():
            header = list(pd.read_csv(out / name, nrows=0).columns)
            check(described.get(name) == header,
                  f"columns.json lists {described.get(name)} for {name}, the file has {header}")

    traces = pd.read_csv(out / "traces.csv")
    lineage = pd.read_csv(out / "lineage.csv")
    per_traces = [pd.read_csv(out / t["task"] / "traces.csv") for t in done]
    per_lineage = [pd.read_csv(out / t["task"] / "lineage.csv") for t in done]
    for combined, parts, name in ((traces, per_traces, "traces.csv"),
                                  (lineage, per_lineage, "lineage.csv")):
        joined = pd.concat(parts, ignore_index=True)
        check(list(combined.columns) == list(joined.columns),
              f"{name}: combined columns {list(combined.columns)} vs per task {list(joined.columns)}")
        diff = combined.compare(joined) if combined.shape == joined.shape else "shape"
        check(combined.shape == joined.shape and diff.empty,
              f"{name}: the combined file is not the per-task rows: {diff}")

    check("time_min" in traces.columns, f"no time_min column: {list(traces.columns)}")
    bad = traces[(traces["time_min"] - traces["frame"] * interval_min).abs() > 1e-9]
    check(bad.empty, f"time_min != frame x {interval_min} in {len(bad)} rows:\n{bad.head()}")
    channels = [c[len("intensity_total_"):] for c in traces.columns
                if c.startswith("intensity_total_")]
    check(channels, f"no intensity_total_* column: {list(traces.columns)}")
    for ch in channels:
        total, mean = traces[f"intensity_total_{ch}"], traces[f"intensity_mean_{ch}"]
        err = (mean * traces["measured_px"] - total).abs()
        # intensity_mean is printed with 4 decimals.
        check((err <= 1e-4 * traces["measured_px"] + 1e-3).all(),
              f"intensity_mean_{ch} x measured_px != intensity_total_{ch}: max {err.max()}")
    check((traces["measured_px"] >= traces["area_px"]).all(), "measured_px < area_px")
    known = set(zip(lineage["fov"], lineage["cell"]))
    check(set(zip(traces["fov"], traces["cell"])) <= known, "a traced cell is not in lineage.csv")
    parents = lineage.set_index(["fov", "cell"])["parent"]
    for (fov, cell), p in traces.groupby(["fov", "cell"])["parent"].first().items():
        q = parents[(fov, cell)]
        check((pd.isna(p) and pd.isna(q)) or p == q, f"{fov} cell {cell}: parent {p} vs {q}")

    for t in done:
        labels = np.load(out / t["task"] / "track_labels.npy", mmap_mode="r")
        rows = traces[traces["fov"] == t["task"]]
        check(len(rows) > 0, f"{t['task']}: no traces")
        for frame, group in rows.groupby("frame"):
            ids, counts = np.unique(np.asarray(labels[frame]), return_counts=True)
            area = dict(zip(ids.tolist(), counts.tolist()))
            area.pop(0, None)
            got = dict(zip(group["cell"].tolist(), group["area_px"].tolist()))
            check(got == area, f"{t['task']} frame {frame}: area_px {got} vs track_labels {area}")
        for tif in sorted((out / t["task"]).glob("*.tif")):
            check(tifffile.imread(tif).size > 0, f"{tif}: empty")
    print(f"outputs ok: {len(done)} task(s), {len(traces)} trace rows, "
          f"{len(lineage)} lineage rows, channels {', '.join(channels)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, nargs="?", help="folder of X.npy + X.tif pairs")
    parser.add_argument("--make-inputs", type=Path, metavar="DIR",
                        help="write tifffile-made test inputs with expected .npy values")
    parser.add_argument("--outputs", type=Path, metavar="OUT",
                        help="check a fov batch's output folder across its files")
    parser.add_argument("--frame-interval-min", type=float, default=10.0,
                        help="the batch's --param frame_interval, in minutes")
    args = parser.parse_args()
    if args.make_inputs:
        return make_inputs(args.make_inputs)
    if args.outputs:
        try:
            return outputs(args.outputs, args.frame_interval_min)
        except Mismatch as e:
            print(f"MISMATCH {args.outputs}: {e}")
            return 1
    if args.folder is None:
        parser.error("give a folder to compare, or --make-inputs DIR")
    return compare(args.folder)


if __name__ == "__main__":
    sys.exit(main())
