"""The CTC detection measure DET on label arrays (no files, no tracks), for choosing settings.

Follows py-ctcmetrics (``ctc_metrics.utils.representations.match`` and
``count_acyclic_graph_correction_operations``, ``ctc_metrics.metrics.technical.det``), itself
after Matula et al. 2015: a reference marker R is detected by the result object S with
|R & S| > 0.5 |R|; per frame, FN = markers detected by nothing, FP = result objects detecting
nothing, NS = sum over result objects detecting k > 1 markers of (k - 1); then
AOGM_D = 5 NS + 10 FN + 1 FP and DET = 1 - min(AOGM_D, AOGM_D0) / AOGM_D0 with
AOGM_D0 = 10 x (number of markers). ``ctc-unet evaluate`` reports DET through py-ctcmetrics
itself; this array version agrees with it on every frame set (tested).
"""

from __future__ import annotations

import numpy as np

from ctc_unet.data.labels import contingency


def detection_counts(markers: np.ndarray, result: np.ndarray) -> dict[str, int]:
    """NS, FN, FP and the number of markers of one frame.

    markers: (H, W) reference markers (e.g. TRA); result: (H, W) instance labels.
    """
    ref_ids, res_ids, table = contingency(markers, result)
    ref_area = table.sum(axis=1)[ref_ids > 0]
    table = table[ref_ids > 0][:, res_ids > 0]
    ref_ids, res_ids = ref_ids[ref_ids > 0], res_ids[res_ids > 0]
    rows, cols = np.nonzero(table > 0.5 * ref_area[:, None])
    matched = list(zip(ref_ids[rows].tolist(), res_ids[cols].tolist(), strict=True))
    per_res: dict[int, int] = {}
    for _, c in matched:
        per_res[c] = per_res.get(c, 0) + 1
    return {"NS": sum(k - 1 for k in per_res.values()),
            "FN": int(ref_ids.size - len(matched)),
            "FP": int(res_ids.size - len(per_res)),
            "markers": int(ref_ids.size)}


def det_measure(markers: list[np.ndarray], results: list[np.ndarray]) -> float:
    """DET over frames: markers and results are matching lists of (H, W) label arrays."""
    total = {"NS": 0, "FN": 0, "FP": 0, "markers": 0}
    for m, r in zip(markers, results, strict=True):
        for k, v in detection_counts(m, r).items():
            total[k] += v
    aogm0 = 10 * total["markers"]
    if aogm0 == 0:
        return 0.0
    aogm = 5 * total["NS"] + 10 * total["FN"] + total["FP"]
    return 1.0 - min(aogm, aogm0) / aogm0
