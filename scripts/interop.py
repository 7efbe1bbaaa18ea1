#!/usr/bin/env python3
"""Check that numpy/tifffile and isobatch's Rust image I/O agree.

    interop.py DIR                 compare every X.npy in DIR with its sibling X.tif
    interop.py --make-inputs DIR   write tifffile-made TIFFs + expected .npy for Rust

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

Needs numpy, tifffile and imagecodecs (tifffile's LZW/PackBits codecs):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy tifffile imagecodecs
"""

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, nargs="?", help="folder of X.npy + X.tif pairs")
    parser.add_argument("--make-inputs", type=Path, metavar="DIR",
                        help="write tifffile-made test inputs with expected .npy values")
    args = parser.parse_args()
    if args.make_inputs:
        return make_inputs(args.make_inputs)
    if args.folder is None:
        parser.error("give a folder to compare, or --make-inputs DIR")
    return compare(args.folder)


if __name__ == "__main__":
    sys.exit(main())
