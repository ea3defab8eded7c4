"""Reading and writing the Cell Tracking Challenge (CTC) folder layout.

Training dataset layout (per sequence ``XX``)::

    XX/tNNN.tif                  raw frames (3 or 4 digits)
    XX_GT/SEG/man_segNNN.tif     gold segmentation, some frames, possibly partly annotated
    XX_GT/TRA/man_trackNNN.tif   tracking markers, every frame
    XX_GT/TRA/man_track.txt      one line ``L B E P`` per track
    XX_ST/SEG/man_segNNN.tif     silver segmentation

A challenge dataset has only the ``XX`` folders. Results go to ``XX_RES/maskNNN.tif`` (uint16,
same digit count as the input) and ``XX_RES/res_track.txt``.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
from collections.abc import Callable, Iterable
from collections.abc import Sequence as Sequence_
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ctc_unet.data.images import check_labels, read_tiff, squeeze_2d, tiff_header, write_label_tiff
from ctc_unet.errors import DataError
from ctc_unet.files import atomic_write, holds_only, staged_dir

logger = logging.getLogger(__name__)

FRAME_RE = re.compile(r"^t(\d{3,4})\.tiff?\Z", re.IGNORECASE)
SEG_RE = re.compile(r"^man_seg(\d{3,4})\.tiff?\Z", re.IGNORECASE)
TRA_RE = re.compile(r"^man_track(\d{3,4})\.tiff?\Z", re.IGNORECASE)
MASK_RE = re.compile(r"^mask(\d{3,4})\.tiff?\Z", re.IGNORECASE)
SEQUENCE_RE = re.compile(r"^\d{2,}\Z")


@dataclass(frozen=True)
class TrackRecord:
    """One line of ``man_track.txt`` / ``res_track.txt``: label, first and last frame
    (0-based, inclusive) and parent label (0 = no parent)."""

    label: int
    begin: int
    end: int
    parent: int


# --------------------------------------------------------------------------- track files


def parse_man_track(path: Path) -> list[TrackRecord]:
    """Parse ``man_track.txt`` (or ``res_track.txt``) into records, checking each line."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    records: list[TrackRecord] = []
    seen: set[int] = set()
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (expected lines 'L B E P')") from None
    lines = text.splitlines()
    # the challenge's reader (py-ctcmetrics' read_tracking_file) splits every line at the
    # first line's separator and refuses blank lines: refuse them here, in words
    sep = " " if lines and " " in lines[0] else "\t"
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{path}:{lineno}: blank line; the challenge's evaluation reads "
                            "every line as 'L B E P' (remove the blank lines)")
        other = "\t" if sep == " " else " "
        if other in line.strip():
            raise DataError(f"{path}:{lineno}: mixes tabs and spaces; the challenge's "
                            f"evaluation splits every line at the first line's separator "
                            f"({'space' if sep == ' ' else 'tab'})")
        parts = line.split()
        if len(parts) != 4 or not all(p.isdigit() for p in parts):
            raise DataError(f"{path}:{lineno}: expected four non-negative integers 'L B E P', "
                            f"got {line.strip()!r}")
        label, begin, end, parent = (int(p) for p in parts)
        if label == 0:
            raise DataError(f"{path}:{lineno}: track label 0 is reserved for the background")
        if begin > end:
            raise DataError(f"{path}:{lineno}: track {label} begins ({begin}) after it "
                            f"ends ({end})")
        if label in seen:
            raise DataError(f"{path}:{lineno}: track {label} is listed twice")
        seen.add(label)
        records.append(TrackRecord(label, begin, end, parent))
    missing = sorted({r.parent for r in records if r.parent and r.parent not in seen})
    if missing:
        raise DataError(f"{path}: parent track(s) {missing} are not listed")
    return records


def format_tracks(records: Iterable[TrackRecord]) -> str:
    """Text of a track file, one ``L B E P`` line per record, sorted by label."""
    return "".join(f"{r.label} {r.begin} {r.end} {r.parent}\n"
                   for r in sorted(records, key=lambda r: r.label))


# --------------------------------------------------------------------------- dataset layout


TIFF_RE = re.compile(r"\.tiff?$", re.IGNORECASE)


def list_folder(folder: Path) -> list[Path]:
    """The entries of ``folder``, sorted; DataError in one line for a folder that cannot be
    listed (permission denied, a symlink loop, not a folder)."""
    try:
        return sorted(Path(folder).iterdir())
    except OSError as exc:
        raise DataError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None


def indexed_files(folder: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    """Files of ``folder`` whose name ``pattern`` matches (group 1: the frame number), keyed
    by frame number; {} when the folder does not exist.

    The suffix ``.tif``/``.tiff`` may be in any case (``pattern`` is matched without case).
    Two files for one frame number (``t003.tif`` and ``t003.tiff``, or ``t003.tif`` and
    ``t0003.tif``) and links that lead nowhere are refused with the files named; TIFF files
    that the pattern does not take are named in a warning, so none is skipped unseen.
    """
    folder = Path(folder)
    if not folder.is_dir():
        if folder.is_symlink():
            raise DataError(f"{folder}: a broken symbolic link or a symlink loop")
        return {}
    out: dict[int, Path] = {}
    unused = []
    for p in list_folder(folder):
        m = pattern.match(p.name)
        if m is None:
            if TIFF_RE.search(p.name) and not p.name.startswith("."):
                unused.append(p.name)
            continue
        if not p.is_file():
            raise DataError(f"{p}: not a readable file (a folder, a broken symbolic link or "
                            "a symlink loop)")
        t = int(m.group(1))
        if t in out:
            raise DataError(f"{folder}: frame {t} is given twice ({out[t].name} and "
                            f"{p.name}); remove one of them")
        out[t] = p
    if unused:
        logger.warning("%s: %d TIFF file(s) not named as expected and not used: %s", folder,
                       len(unused), ", ".join(unused[:5]) + (" ..." if len(unused) > 5 else ""))
    return out


@dataclass(frozen=True)
class Sequence:
    """One CTC sequence and the annotation files found for it (nothing is read yet)."""

    name: str
    root: Path
    frames: dict[int, Path]
    digits: int
    gt_seg: dict[int, Path] = field(default_factory=dict)
    gt_tra: dict[int, Path] = field(default_factory=dict)
    tracks_file: Path | None = None
    st_seg: dict[int, Path] = field(default_factory=dict)

    @property
    def has_gt(self) -> bool:
        return bool(self.gt_seg or self.gt_tra)

    def frame_shape(self, t: int) -> tuple[int, ...]:
        """Shape of frame ``t`` read from the TIFF header."""
        shape, _ = tiff_header(self.frames[t])
        return tuple(d for d in shape if d != 1) or shape

    @functools.cached_property
    def first_shape(self) -> tuple[int, ...]:
        """Shape of the sequence's first frame (its header, read once)."""
        return self.frame_shape(min(self.frames))

    def _check_shape(self, path: Path, shape: tuple[int, ...]) -> None:
        if shape != self.first_shape:
            raise DataError(f"{path}: frame shape {shape} differs from the sequence's first "
                            f"frame {self.first_shape}; a sequence's frames must share one size")

    def read_frame(self, t: int) -> np.ndarray:
        """Raw frame ``t`` as stored (2D); DataError for NaN/inf values or a shape other than
        the first frame's."""
        path = self.frames[t]
        image = squeeze_2d(read_tiff(path), path)
        if image.dtype.kind not in "uifb":
            raise DataError(f"{path}: pixel type {image.dtype} is not a gray-value image")
        if image.dtype.kind == "f" and not np.isfinite(image).all():
            bad = int((~np.isfinite(image)).sum())
            kind = "NaN" if np.isnan(image).any() else "inf"
            raise DataError(f"{path}: {bad} pixel(s) are {kind} or infinite; fix or remove "
                            "the frame")
        self._check_shape(path, image.shape)
        return image

    def check_frames(self) -> None:
        """Before any work: every frame's header readable, 2D and of one shape (DataError
        names the first that is not); a warning for missing frame numbers. Done once per
        Sequence, however often it is asked for."""
        self._frames_checked  # noqa: B018 (a cached property: the check runs once)

    @functools.cached_property
    def _frames_checked(self) -> bool:
        for t, path in sorted(self.frames.items()):
            shape = self.frame_shape(t)
            if len(shape) != 2:
                raise DataError(f"{path}: expected a 2D gray-value image, got shape {shape}")
            self._check_shape(path, shape)
        gaps = missing_frames(self.frames)
        if gaps:
            logger.warning(
                "%s: frame number(s) %s missing; no mask is written for them and a track "
                "that crosses the gap stays one track in res_track.txt (its begin/end are the "
                "frame numbers of the files, as the challenge counts them)",
                self.root / self.name, ", ".join(f"{t:0{self.digits}d}" for t in gaps[:10]))
        return True

    def _read_mask(self, files: dict[int, Path], t: int, relabel: bool = True) -> np.ndarray:
        if t not in files:
            raise DataError(f"{self.root / self.name}: no mask for frame {t}")
        shape = self.frame_shape(t) if t in self.frames else None
        return check_labels(read_tiff(files[t]), files[t], shape, relabel)

    def read_gt_seg(self, t: int) -> np.ndarray:
        """Gold segmentation of frame ``t`` (validated against the frame)."""
        return self._read_mask(self.gt_seg, t)

    def read_gt_tra(self, t: int) -> np.ndarray:
        """Tracking markers of frame ``t`` (validated against the frame)."""
        return self._read_mask(self.gt_tra, t, relabel=False)

    def read_st_seg(self, t: int) -> np.ndarray:
        """Silver segmentation of frame ``t`` (validated against the frame)."""
        return self._read_mask(self.st_seg, t)

    def orphan_annotations(self) -> list[Path]:
        """Annotation files (GT SEG, GT TRA, ST SEG) of frame numbers that have no frame."""
        return [files[t] for files in (self.gt_seg, self.gt_tra, self.st_seg)
                for t in sorted(files) if t not in self.frames]

    def check_annotations_have_frames(self) -> None:
        """DataError naming the first annotation without its frame: a numbering that differs
        between XX/ and XX_GT/ would pair every annotation with the wrong frame."""
        orphans = self.orphan_annotations()
        if orphans:
            t = int(re.search(r"(\d+)\.tiff?$", orphans[0].name, re.IGNORECASE).group(1))
            more = f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""
            raise DataError(f"{orphans[0]}: annotates frame {t}, but "
                            f"{self.name}/t{t:0{self.digits}d}.tif does not exist{more}; "
                            "remove the annotation or add its frame")

    def tracks(self) -> list[TrackRecord]:
        """Records of ``XX_GT/TRA/man_track.txt``."""
        if self.tracks_file is None:
            raise DataError(f"{self.root / (self.name + '_GT') / 'TRA'}: no man_track.txt")
        return parse_man_track(self.tracks_file)


@dataclass(frozen=True)
class CtcDataset:
    """A CTC dataset folder: its sequences, keyed by name (``"01"``, ``"02"``, ...)."""

    root: Path
    sequences: dict[str, Sequence]

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def has_gt(self) -> bool:
        return any(s.has_gt for s in self.sequences.values())

    def sequence(self, name: str) -> Sequence:
        """Sequence by name; accepts ``1`` for ``01``."""
        key = name.zfill(2)
        if key not in self.sequences:
            raise DataError(f"{self.root}: no sequence {name!r} (found: "
                            f"{', '.join(self.sequences) or 'none'})")
        return self.sequences[key]


def context_times(times: Sequence_[int], t: int, k: int) -> list[int]:
    """The 2k + 1 frame numbers around ``t`` in the sorted ``times``, by position (a missing
    frame number is skipped), the sequence's first and last frames repeated at its ends.
    ``context_times([0, 1, 2, 4], 2, 1) == [1, 2, 4]``; ``context_times(ts, ts[0], 1)`` starts
    with ``ts[0]`` twice."""
    i = bisect.bisect_left(times, t)
    if i == len(times) or times[i] != t:
        raise ValueError(f"frame {t} is not in the sequence")
    last = len(times) - 1
    return [times[min(max(i + d, 0), last)] for d in range(-k, k + 1)]


def context_stack(read: Callable[[int], np.ndarray], times: Sequence_[int], t: int, k: int
                  ) -> np.ndarray:
    """(2k + 1, H, W): ``read`` of the frames ``context_times(times, t, k)``, in time order;
    with k = 0 the (1, H, W) frame ``read(t)`` alone."""
    return np.stack([read(s) for s in (context_times(times, t, k) if k else [t])])


def missing_frames(frames: dict[int, Path]) -> list[int]:
    """Frame numbers absent between the first and the last file."""
    if not frames:
        return []
    present = set(frames)
    return [t for t in range(min(present), max(present) + 1) if t not in present]


def _digits(files: dict[int, Path], folder: Path, prefix: str) -> int:
    widths = {len(p.stem) - len(prefix) for p in files.values()}
    if len(widths) > 1:
        raise DataError(f"{folder}: frame numbers mix {sorted(widths)} digits")
    return widths.pop()


def open_sequence(root: Path, name: str) -> Sequence:
    """Index sequence ``name`` under ``root``: frames, GT SEG/TRA and ST SEG files."""
    folder = root / name
    frames = indexed_files(folder, FRAME_RE)
    if not frames:
        raise DataError(f"{folder}: no frames (expected files named t000.tif or t0000.tif)")
    gt = root / f"{name}_GT"
    tracks_file = gt / "TRA" / "man_track.txt"
    return Sequence(
        name=name,
        root=root,
        frames=frames,
        digits=_digits(frames, folder, "t"),
        gt_seg=indexed_files(gt / "SEG", SEG_RE),
        gt_tra=indexed_files(gt / "TRA", TRA_RE),
        tracks_file=tracks_file if tracks_file.is_file() else None,
        st_seg=indexed_files(root / f"{name}_ST" / "SEG", SEG_RE),
    )


def _layout_hint(root: Path) -> str:
    """Where the dataset folder is when ``root`` is one level off: a sequence folder itself
    (its frames are here), or a data root holding dataset folders."""
    if indexed_files(root, FRAME_RE):
        return (f"; {root.name}/ is a sequence folder: give its dataset folder "
                f"{root.parent}")
    datasets = [p for p in list_folder(root) if p.is_dir() and any(
        SEQUENCE_RE.match(q.name) and q.is_dir() for q in list_folder(p))]
    if datasets:
        names = ", ".join(p.name for p in datasets[:4]) + (" ..." if len(datasets) > 4 else "")
        return (f"; it holds dataset folders ({names}): give one of them, e.g. "
                f"{datasets[0]}")
    return ""


def open_ctc_dataset(root: Path, require_gt: bool = False) -> CtcDataset:
    """Index a CTC training or challenge dataset folder.

    Raises DataError when the folder is missing, holds no sequence folder, a sequence has no
    frames, or ``require_gt`` is set and no sequence has ground truth.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    entries = [p for p in list_folder(root) if SEQUENCE_RE.match(p.name)]
    for p in entries:
        if p.is_symlink() and not p.exists():
            raise DataError(f"{p}: a broken symbolic link or a symlink loop")
    names = [p.name for p in entries if p.is_dir()]
    if not names:
        raise DataError(f"{root}: no sequence folders (expected 01, 02, ... holding "
                        f"tNNN.tif){_layout_hint(root)}")
    dataset = CtcDataset(root=root, sequences={n: open_sequence(root, n) for n in names})
    if require_gt and not dataset.has_gt:
        raise DataError(f"{root}: no ground truth (expected folders like 01_GT/SEG, 01_GT/TRA)")
    return dataset


# --------------------------------------------------------------------------- results


RESULT_WHAT = "a CTC result (maskNNN.tif, res_track.txt)"


def is_result_folder(folder: Path) -> bool:
    """True for a folder that holds a CTC result's files (res_track.txt or maskNNN.tif) and
    nothing but such files and staging litter: one that ctc-unet may replace."""
    return holds_only(folder, lambda n: n == "res_track.txt" or MASK_RE.match(n))


def res_folder(out_root: Path, sequence: str) -> Path:
    """``<out_root>/<XX>_RES``."""
    return Path(out_root) / f"{sequence}_RES"


def write_mask(res_dir: Path, t: int, mask: np.ndarray, digits: int) -> Path:
    """Write ``maskNNN.tif`` (uint16, ``digits`` digits) atomically; returns its path."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"a result mask must be a 2D integer array, got {mask.dtype} {mask.shape}")
    if mask.size and (mask.min() < 0 or mask.max() > np.iinfo(np.uint16).max):
        raise ValueError("result mask labels must lie in 0..65535")
    return write_label_tiff(Path(res_dir) / f"mask{t:0{digits}d}.tif", mask)


def write_tracks(path: Path, records: Iterable[TrackRecord]) -> Path:
    """Write a ``man_track.txt`` / ``res_track.txt`` file atomically."""
    text = format_tracks(records)
    atomic_write(Path(path), lambda p: p.write_text(text))
    return Path(path)


def children(records: Iterable[TrackRecord]) -> dict[int, list[TrackRecord]]:
    """Parent label -> its child tracks (one child: a gap closed; two or more: a division)."""
    out: dict[int, list[TrackRecord]] = {}
    for r in records:
        if r.parent:
            out.setdefault(r.parent, []).append(r)
    return out


def count_divisions(records: Iterable[TrackRecord]) -> int:
    """Tracks with two or more daughters; a single child is a gap, not a division."""
    return sum(len(kids) >= 2 for kids in children(records).values())


def write_result_folder(folder: Path, frames: list[int], masks: list[np.ndarray],
                        records: Iterable[TrackRecord], *, digits: int,
                        check: Callable[[Path], None] | None = None) -> Path:
    """Write a CTC result folder (masks and res_track.txt) into a temporary sibling, call
    ``check`` on it (it raises to refuse), and move it into place only then; returns it.

    ``records`` use list positions as frame numbers; they are mapped to ``frames``.
    """
    folder = Path(folder)
    with staged_dir(folder, is_result_folder, RESULT_WHAT) as staging:
        for t, mask in zip(frames, masks, strict=True):
            write_mask(staging, t, mask, digits)
        write_tracks(staging / "res_track.txt",
                     [TrackRecord(r.label, frames[r.begin], frames[r.end], r.parent)
                      for r in records])
        if check is not None:
            check(staging)
    return folder


def write_results(out_root: Path, sequence: str, frames: list[int], masks: list[np.ndarray],
                  *, records: Iterable[TrackRecord], digits: int) -> Path:
    """Write ``<out_root>/<XX>_RES`` atomically (see ``write_result_folder``)."""
    return write_result_folder(res_folder(out_root, sequence), frames, masks, records,
                               digits=digits)
