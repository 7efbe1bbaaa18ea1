"""Inputs of the read benchmark (worker/src/image/tests/read_bench.rs, docs/benchmarks.md).

    python scripts/read_bench_fixtures.py DIR

Writes the same uint16 pixels, sample (p, t, c, y, x) = (11p + 7t + 3c + y + x) mod 65536,
as an ImageJ hyperstack (tifffile), OME-TIFF in both dimension orders (tifffile), and CZI
uncompressed and zstd1 (Zeiss's pylibCZIrw); the benchmark writes the ND2 files itself
(no open ND2 writer exists; tests/tests/common/nd2_writer.rs) with the same formula.

    DIR/speed/  one position, 2 channels x 100 frames of 512x512:
                a.tif, ct.ome.tif (XYCZT), tc.ome.tif (XYTZC), a.czi, z.czi
    DIR/rss/    2 channels of 256x256 for (positions, frames) in (1, 50), (4, 50), (16, 50),
                (1, 200): {fmt}_p{P}_t{T}.{ext} for ImageJ TIFF (P = 1 only), OME-TIFF
                (one series per position, XYCZT) and CZI (one scene per position)
"""

import sys
from pathlib import Path

import numpy as np
import tifffile
from pylibCZIrw import czi as pyczi

ZSTD1 = "zstd1:ExplicitLevel=1;PreProcess=HiLoByteUnpack"
SIZES = [(1, 50), (4, 50), (16, 50), (1, 200)]


def plane(p, t, c, n):
    y, x = np.mgrid[0:n, 0:n]
    return ((11 * p + 7 * t + 3 * c + y + x) % 65536).astype(np.uint16)


def stack(p, frames, n):
    """Position p as a TCYX array."""
    return np.stack(
        [np.stack([plane(p, t, c, n) for c in range(2)]) for t in range(frames)]
    )


def write_czi(path, positions, frames, n, compression=None):
    with pyczi.create_czi(str(path), exist_ok=True, compression_options=compression) as w:
        for p in range(positions):
            for t in range(frames):
                for c in range(2):
                    kw = {"scene": p, "location": (n * 2 * p, 0)} if positions > 1 else {}
                    w.write(plane(p, t, c, n)[..., None], plane={"T": t, "C": c}, **kw)
        w.write_metadata(document_name=path.stem)


def write_ome(path, positions, frames, n, channel_major=False):
    with tifffile.TiffWriter(path, ome=True) as tw:
        for p in range(positions):
            data = stack(p, frames, n)
            if channel_major:
                tw.write(np.ascontiguousarray(data.transpose(1, 0, 2, 3)), metadata={"axes": "CTYX"})
            else:
                tw.write(data, metadata={"axes": "TCYX"})


def main(out):
    speed, rss = out / "speed", out / "rss"
    speed.mkdir(parents=True, exist_ok=True)
    rss.mkdir(parents=True, exist_ok=True)
    a = stack(0, 100, 512)
    tifffile.imwrite(speed / "a.tif", a, imagej=True, metadata={"axes": "TCYX"})
    write_ome(speed / "ct.ome.tif", 1, 100, 512)
    write_ome(speed / "tc.ome.tif", 1, 100, 512, channel_major=True)
    write_czi(speed / "a.czi", 1, 100, 512)
    write_czi(speed / "z.czi", 1, 100, 512, ZSTD1)
    for positions, frames in SIZES:
        tag = f"p{positions}_t{frames}"
        if positions == 1:
            tifffile.imwrite(
                rss / f"tif_{tag}.tif", stack(0, frames, 256), imagej=True, metadata={"axes": "TCYX"}
            )
        write_ome(rss / f"ome_{tag}.ome.tif", positions, frames, 256)
        write_czi(rss / f"czi_{tag}.czi", positions, frames, 256)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
