"""The notebook user: arrays in and out (scores with hand-computed values, linking any
segmenter's masks, CTC results written and read back), models that travel as one file, and
the Python session of docs/python-session.py run end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ctc_unet
from ctc_unet.data.ctc import TrackRecord

REPO = Path(__file__).resolve().parents[1]


def _boxes(*boxes: tuple[int, int, int, int, int], shape=(40, 40)) -> np.ndarray:
    out = np.zeros(shape, np.uint16)
    for label, y, x, h, w in boxes:
        out[y:y + h, x:x + w] = label
    return out


# --------------------------------------------------------------------------- scores


def test_score_masks_equals_its_hand_computed_value():
    reference = _boxes((1, 0, 0, 10, 10), (2, 20, 20, 10, 10), (3, 30, 0, 4, 4))
    # object 1 found shifted by 2 rows (80 of 100 px shared: Jaccard 80 / 120), object 2
    # split in halves (no half covers more than half of it: unmatched, one split), object 3
    # missed, one extra object
    result = _boxes((7, 2, 0, 10, 10), (8, 20, 20, 10, 5), (9, 20, 25, 10, 5),
                    (5, 0, 30, 5, 5))
    scores = ctc_unet.score_masks(reference, result)
    assert scores["SEG"] == pytest.approx((80 / 120 + 0 + 0) / 3)
    assert (scores["objects"], scores["missed"], scores["extra"]) == (3, 2, 3)
    rows = {r["reference"]: r for r in scores["matches"]}
    assert rows[1]["result"] == 7 and rows[1]["jaccard"] == pytest.approx(80 / 120)
    assert rows[2]["result"] == 0 and rows[3]["result"] == 0 and rows[3]["area"] == 16


def test_score_masks_takes_lists_and_checks_them():
    a = _boxes((1, 0, 0, 10, 10))
    assert ctc_unet.score_masks([a, a], [a, a])["SEG"] == 1.0
    with pytest.raises(ctc_unet.CtcUnetError, match="shapes differ"):
        ctc_unet.score_masks(a, a[:20])
    with pytest.raises(ctc_unet.CtcUnetError, match="integer label image"):
        ctc_unet.score_masks(a, a.astype(np.float32))


def test_linking_arrays_finds_a_division_and_scores_it_perfectly():
    frames = [_boxes((1, 10, 10, 12, 12)) for _ in range(4)]
    frames += [_boxes((4, 8, 8, 8, 8), (5, 18, 18, 8, 8)) for _ in range(4)]
    masks, records = ctc_unet.link(frames)
    assert sum(r.parent > 0 for r in records) == 2  # one mother, two daughters
    scores = ctc_unet.score_tracks(masks, records, masks, records)
    assert scores["TRA"] == pytest.approx(1.0) and scores["DET"] == pytest.approx(1.0)
    with pytest.raises(ctc_unet.CtcUnetError, match="no objects"):
        ctc_unet.link([np.zeros((8, 8), np.uint16)])


def test_a_result_written_and_read_back_is_the_same(tmp_path):
    frames = [_boxes((1, 10, 10, 12, 12)) for _ in range(3)]
    masks, records = ctc_unet.link(frames)
    folder = ctc_unet.write_result(tmp_path / "01_RES", masks, records, digits=4)
    assert (folder / "mask0002.tif").is_file()
    assert (folder / "res_track.txt").read_text().split()[1:3] == ["0", "2"]
    back, back_records, numbers = ctc_unet.read_result(folder)
    assert numbers == [0, 1, 2] and back_records == records
    assert all(np.array_equal(a, b) for a, b in zip(back, masks, strict=True))


def test_an_invalid_result_is_not_written(tmp_path):
    masks = [_boxes((1, 10, 10, 12, 12))]
    with pytest.raises(ctc_unet.CtcUnetError, match="not a valid CTC result") as info:
        ctc_unet.write_result(tmp_path / "01_RES", masks, [TrackRecord(2, 0, 0, 0)])
    assert ".tmp-" not in str(info.value)  # the user's folder named, not the staging copy
    assert list(tmp_path.iterdir()) == []


def test_read_reference_clips_the_tracks_to_the_frames(synthetic_root):
    markers, records, numbers = ctc_unet.read_reference(synthetic_root, "01",
                                                        frames=range(2, 6))
    assert numbers == [2, 3, 4, 5] and len(markers) == 4
    assert all(0 <= r.begin <= r.end <= 3 for r in records)
    assert ctc_unet.score_tracks(markers, records, markers, records)["TRA"] == 1.0


# --------------------------------------------------------------------------- the model


def test_a_model_reads_a_path_and_says_what_it_is(tiny_run, synthetic_root):
    model = ctc_unet.load_model(tiny_run, device="cpu")
    text = repr(model)
    assert len(text) < 300 and "depth 3" in text and "threshold" in text
    path = synthetic_root / "01" / "t000.tif"
    assert np.array_equal(model.predict_instances(str(path)),
                          model.predict_instances(tifffile.imread(path)))
    with pytest.raises(ctc_unet.CtcUnetError, match="no such image file"):
        model.predict_instances("nowhere.tif")


def test_dir_lists_the_api():
    names = dir(ctc_unet)
    for name in ("train", "load_model", "RunDir", "score_masks", "link", "write_result"):
        assert name in names
    from ctc_unet import api
    assert set(api.__all__) == set(ctc_unet.__all__) - {"__version__"}


# --------------------------------------------------------------------------- the session


def test_the_python_session_of_the_docs_runs(tiny_run, synthetic_root, tmp_path):
    pytest.importorskip("bioimageio.spec")
    env = {**os.environ, "CTC_UNET_SESSION_DIR": str(tmp_path / "work"),
           "CTC_UNET_SESSION_RUN": str(tiny_run), "CTC_UNET_SESSION_DATA": str(synthetic_root)}
    proc = subprocess.run([sys.executable, str(REPO / "docs" / "python-session.py")], env=env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "the same instances as the run: True" in proc.stdout
    assert "tracked clip: DET" in proc.stdout
