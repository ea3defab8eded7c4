"""Which frames ``evaluate`` scores: all of them, a block FIRST-LAST, or the run's own
choosing or reporting frames (its split.json)."""

from __future__ import annotations

from ctc_unet.errors import CtcUnetError
from ctc_unet.rundir import RunDir

FRAME_CHOICES = "all, choose (alias val), report, or FIRST-LAST"


def frame_selection(run: RunDir | None, frames: str, sequences: list[str]
                    ) -> dict[str, tuple[tuple[int, int] | None, set[int] | None]]:
    """Per sequence: the block of frames to score (None = all) and the GT frames SEG may use
    (None = every one in the block).

    ``choose``/``val`` and ``report`` come from the run's split.json: with a held-out block,
    the block of its choosing or reporting frames; without one (older runs), ``choose`` scores
    SEG on the validation GT frames of the whole sequence.
    """
    if frames == "all":
        return {s: (None, None) for s in sequences}
    if "-" in frames and frames.replace("-", "").isdigit() and frames.count("-") == 1:
        first, last = (int(x) for x in frames.split("-"))
        if first > last:
            raise CtcUnetError(f"--frames {frames}: the first frame comes after the last")
        return {s: ((first, last), None) for s in sequences}
    if frames not in ("choose", "val", "report"):
        raise CtcUnetError(f"--frames must be {FRAME_CHOICES}; got {frames!r}")
    if run is None or not run.split.is_file():
        where = "a run directory" if run is None else f"{run.root}: the run has none"
        raise CtcUnetError(f"--frames {frames} needs the split.json of a run ({where}; a run "
                           "made from a package has none): give --frames all or FIRST-LAST")

    split = run.load_split()
    refs = split.report if frames == "report" else split.val
    out: dict[str, tuple[tuple[int, int] | None, set[int] | None]] = {}
    for name in sequences:
        if frames == "report" and name in split.report_sequences:
            out[name] = (None, None)  # reported on whole: every frame, every TRA marker
            continue
        ts = sorted(r.t for r in refs if r.sequence == name)
        if not ts:
            continue
        if split.report:  # a held-out block: score its choosing or reporting part
            out[name] = ((ts[0], ts[-1]), None)
        else:
            out[name] = (None, set(ts))
    if not out:
        what = ("sets no frames apart for reporting (a refit on every annotated frame, "
                "whose parent's scores stand for it, or a run from before the validation "
                "protocol); give --frames FIRST-LAST" if frames == "report"
                else "holds out no frame")
        raise CtcUnetError(f"{run.root}: the run {what} of {', '.join(sequences)}")
    return out
