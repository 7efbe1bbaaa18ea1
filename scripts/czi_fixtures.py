"""CZI files written by Zeiss's own writer (pylibCZIrw), for isobatch's CZI reader.

    python scripts/czi_fixtures.py --fixtures DIR
        Small reader fixtures whose pixels follow `value()` (the Rust tests in
        worker/src/image/tests/czi_tests.rs compute the same): several scenes,
        named channels, time, a Z stack in 8-bit, zstd0 and zstd1 (with and
        without hi/lo packing, 16- and 8-bit) compression, and a two-tile mosaic the reader must refuse. The copies in
        worker/src/image/tests/czi/ were written by this mode.

    python scripts/czi_fixtures.py --from-tiffs RAW OUT
        Every ImageJ hyperstack RAW/*.tif (2 channels, same size) as one scene of
        OUT/plate.czi (channels Phase, GFP; zstd1), so scripts/interop can check
        the traces of each scene equal those of its TIFF, bit for bit.

    python scripts/czi_fixtures.py --bench DIR
        The benchmark's inputs (docs/benchmarks.md): 2 channels x 100 frames of
        512x512 uint16 as an ImageJ hyperstack (a.tif) and as CZI, uncompressed
        (a.czi) and zstd1 (z.czi).
"""

import sys
from pathlib import Path

import numpy as np
from pylibCZIrw import czi as pyczi

W, H = 24, 16
ZSTD0 = "zstd0:ExplicitLevel=1"
ZSTD1 = "zstd1:ExplicitLevel=1;PreProcess=HiLoByteUnpack"
ZSTD1_PLAIN = "zstd1:ExplicitLevel=1"


def value(s, t, c, z, dtype):
    """Plane (s, t, c, z): distinct values, the same formula as the Rust tests."""
    y, x = np.mgrid[0:H, 0:W]
    v = s * 7919 + t * 613 + c * 97 + z * 31 + y * W + x
    return (v % (251 if dtype == np.uint8 else 65521)).astype(dtype)


def write(path, scenes, t, c, z, dtype=np.uint16, compression=None, names=None):
    with pyczi.create_czi(str(path), exist_ok=True, compression_options=compression) as w:
        for s in range(scenes):
            for ti in range(t):
                for ci in range(c):
                    for zi in range(z):
                        w.write(
                            value(s, ti, ci, zi, dtype)[..., None],
                            plane={"T": ti, "C": ci, "Z": zi},
                            scene=s,
                            location=(100 * s, 50 * s),
                        )
        w.write_metadata(
            document_name=path.stem,
            channel_names=names or {},
            scale_x=0.65,
            scale_y=0.65,
        )


def fixtures(out):
    out.mkdir(parents=True, exist_ok=True)
    write(out / "scenes.czi", 2, 3, 2, 1, names={0: "Phase", 1: "GFP"})
    write(out / "zstd0.czi", 1, 2, 2, 1, compression=ZSTD0, names={0: "Phase", 1: "GFP"})
    write(out / "zstd1.czi", 1, 2, 2, 1, compression=ZSTD1, names={0: "Phase", 1: "GFP"})
    write(out / "zstd1plain.czi", 1, 2, 1, 1, compression=ZSTD1_PLAIN)
    write(out / "zstack8.czi", 1, 2, 1, 3, dtype=np.uint8)
    write(out / "zstd0_8.czi", 1, 1, 1, 2, dtype=np.uint8, compression=ZSTD0)
    write(out / "zstd1_8.czi", 1, 1, 1, 2, dtype=np.uint8, compression=ZSTD1)
    with pyczi.create_czi(str(out / "mosaic.czi"), exist_ok=True) as w:
        for m in range(2):
            w.write(value(0, 0, 0, 0, np.uint16)[..., None], plane={"T": 0, "C": 0}, location=(W * m, 0))
        w.write_metadata(document_name="mosaic")


def from_tiffs(raw, out):
    import tifffile

    stacks = [tifffile.imread(p) for p in sorted(raw.glob("*.tif"))]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "plate.czi"
    with pyczi.create_czi(str(path), exist_ok=True, compression_options=ZSTD1) as w:
        for s, stack in enumerate(stacks):
            assert stack.ndim == 4 and stack.shape[1] == 2, stack.shape  # T, C, Y, X
            for t in range(stack.shape[0]):
                for c in range(2):
                    w.write(stack[t, c][..., None], plane={"T": t, "C": c}, scene=s, location=(0, 0))
        w.write_metadata(document_name="plate", channel_names={0: "Phase", 1: "GFP"})
    print(f"{path}: {len(stacks)} scenes of {stacks[0].shape}")


def bench(out):
    import tifffile

    out.mkdir(parents=True, exist_ok=True)
    t, c, n = 100, 2, 512
    y, x = np.mgrid[0:n, 0:n]
    stack = np.empty((t, c, n, n), np.uint16)
    for ti in range(t):
        for ci in range(c):
            stack[ti, ci] = (ti * 7 + ci * 3 + y + x) % 65536
    tifffile.imwrite(out / "a.tif", stack, imagej=True, metadata={"axes": "TCYX"})
    for name, compression in [("a.czi", None), ("z.czi", ZSTD1)]:
        with pyczi.create_czi(str(out / name), exist_ok=True, compression_options=compression) as w:
            for ti in range(t):
                for ci in range(c):
                    w.write(stack[ti, ci][..., None], plane={"T": ti, "C": ci})
            w.write_metadata(document_name=name)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fixtures"]:
        fixtures(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["--bench"]:
        bench(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["--from-tiffs"]:
        from_tiffs(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
