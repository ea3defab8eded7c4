"""A sparser copy of a CTC dataset, for measuring what a sparsely annotated dataset gives the
model: the frames and every TRA marker, but gold SEG masks only on every k-th frame (and, with
--no-st, no silver truth). Files are linked, not copied, where the file system allows.

    python benchmarks/sparse_dataset.py SRC DEST [--seg-every 5] [--no-st]

    SIM+ 01 made sparse (the never-seen-dataset proxy of docs/evaluation.md):
      python benchmarks/sparse_dataset.py $CTC_DATA_DIR/Fluo-N2DH-SIM+ runs/data/SIM-sparse
    DIC-HeLa without its silver truth (gold frames and markers only):
      python benchmarks/sparse_dataset.py $CTC_DATA_DIR/DIC-C2DH-HeLa runs/data/DIC-noST \\
          --seg-every 1 --no-st
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from ctc_unet.data.ctc import SEG_RE, SEQUENCE_RE, indexed_files
from ctc_unet.files import staged_dir


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def sparse_copy(src: Path, dest: Path, seg_every: int = 5, silver: bool = True) -> Path:
    """Write ``dest``: ``src``'s sequences and TRA folders whole, GT SEG masks of every
    ``seg_every``-th frame number only (0, k, 2k, ...), ST only with ``silver``."""
    with staged_dir(dest) as stage:
        for seq in sorted(p for p in src.iterdir() if SEQUENCE_RE.match(p.name)):
            for p in sorted(seq.iterdir()):
                _place(p, stage / seq.name / p.name)
            tra = src / f"{seq.name}_GT" / "TRA"
            for p in sorted(tra.iterdir()) if tra.is_dir() else []:
                _place(p, stage / f"{seq.name}_GT" / "TRA" / p.name)
            for t, p in sorted(indexed_files(src / f"{seq.name}_GT" / "SEG", SEG_RE).items()):
                if t % seg_every == 0:
                    _place(p, stage / f"{seq.name}_GT" / "SEG" / p.name)
            st = src / f"{seq.name}_ST" / "SEG"
            for p in sorted(st.iterdir()) if silver and st.is_dir() else []:
                _place(p, stage / f"{seq.name}_ST" / "SEG" / p.name)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--seg-every", type=int, default=5)
    parser.add_argument("--no-st", action="store_true", help="leave the silver truth out")
    args = parser.parse_args()
    out = sparse_copy(args.src, args.dest, args.seg_every, not args.no_st)
    n = sum(len(list((out / f"{s.name}_GT" / "SEG").glob("*.tif")))
            for s in out.iterdir() if SEQUENCE_RE.match(s.name)
            and (out / f"{s.name}_GT" / "SEG").is_dir())
    print(f"{out}: {n} gold SEG frames")


if __name__ == "__main__":
    main()
