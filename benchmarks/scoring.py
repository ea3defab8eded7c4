"""Scoring shared by the tracking benchmarks: one tracked result written as CTC ``XX_RES``
in a temporary folder, scored with py-ctcmetrics on a block, as one markdown table row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ctc_unet.data.ctc import Sequence, TrackRecord, write_results
from ctc_unet.evaluation.clip import clip_tracks
from ctc_unet.evaluation.ctc import evaluate_ctc_sequence

MEASURES = ("SEG", "DET", "TRA", "LNK", "CT", "TF", "BC(0)", "BIO(0)")


def table_head(first: str, silver: bool = False) -> str:
    """The header and rule of the table ``tracked_row`` fills; ``first``: the first column;
    ``silver``: with SEG against the silver truth (SEG_ST)."""
    names = _measures(silver)
    return (f"| {first} | " + " | ".join(names) + " | divisions / ref | tracks / ref | s |\n"
            + "| --- " * (len(names) + 4) + "|")


def _measures(silver: bool) -> tuple[str, ...]:
    return ("SEG", "SEG_ST", *MEASURES[1:]) if silver else MEASURES


def tracked_row(name: str, seq: Sequence, gt: Path, masks: list[np.ndarray],
                records: list[TrackRecord], block: tuple[int, int] | None,
                seconds: float, silver: bool = False) -> str:
    """``masks`` (every frame of ``seq``, labelled with the ids of ``records``) scored against
    the gold truth folder ``gt`` on ``block`` (first, last; None: the whole sequence);
    ``silver``: also SEG against the silver truth beside it (``XX_ST``)."""
    frames = sorted(seq.frames)
    first, last = block or (frames[0], frames[-1])
    with tempfile.TemporaryDirectory() as tmp:
        res = write_results(Path(tmp), seq.name, frames, masks, records=records,
                            digits=seq.digits)
        st = gt.parent / f"{seq.name}_ST" if silver else None
        s = evaluate_ctc_sequence(res, gt, block, digits=seq.digits, st_dir=st)
    cells = " | ".join(f"{s[k]:.4f}" if k in s else "" for k in _measures(silver))
    n_ref = len(clip_tracks(seq.tracks(), first, last))
    return (f"| {name} | {cells} | {s.get('divisions')} / {s.get('divisions_ref')} | "
            f"{len(clip_tracks(records, first, last))} / {n_ref} | {seconds:.1f} |")
