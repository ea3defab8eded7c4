"""ISBI 2012 measures as the challenge computes them (the 2013+ leaderboard).

Reproduces the Fiji scripts behind the leaderboard, ``trainableSegmentation.metrics``
(github.com/fiji/Trainable_Segmentation, ``RandError.getMaximalVRandAfterThinning`` and
``VariationOfInformation.getMaximalVInfoAfterThinning``, with
``utils.WatershedTransform2D``), per 2D slice:

1. the probability map is thresholded at 0.0, 0.1, ..., 0.9 (``> t`` is cell);
2. GT cells are the 4-connected components of the label map (``> t``, so its foreground);
3. the predicted borders are thinned: a Vincent-Soille watershed (4-connectivity) of the
   inverted binary map, so each border pixel joins a cell and only 1-px dams stay 0;
4. only pixels of GT foreground count; predicted-0 pixels there (dams) count as singletons;
5. V_Rand and V_Info are the F-scores of the foreground-restricted Rand and information
   theoretic split/merge scores (N^2 normalisation), averaged over slices;
6. the best threshold's score is reported; the errors are 1 - V.

The pixel error (1 - accuracy of the map thresholded at 0.5) is kept beside them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
from skimage.measure import label as connected_components

from ctc_unet.data.labels import contingency

ISBI_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(10))  # 0.0 .. 0.9, as Fiji's loop
ISBI_COLUMNS = ("rand_error", "rand_threshold", "info_error", "info_threshold", "pixel_error")
_MASK, _WSHED, _INQUEUE = -2, 0, -3


def thin_borders(cell: np.ndarray) -> np.ndarray:
    """Labels (H, W) int32 of a binary (H, W) cell map after Fiji's watershed thinning.

    The map is inverted (borders high) and flooded from its minima (the 4-connected cells)
    in Vincent-Soille order, pixels visited column by column as ImageJ does; border pixels
    reached by two basins become dams (0). Border regions that touch no cell become basins
    of their own.
    """
    cell = np.asarray(cell, bool)
    h, w = cell.shape
    basins = connected_components(cell, connectivity=1).astype(np.int64)
    border = ~cell
    lab = np.where(cell, basins, _MASK).ravel().tolist()
    labelled = np.pad(cell, 1)
    touch = (labelled[1:-1, :-2] | labelled[1:-1, 2:] | labelled[:-2, 1:-1] | labelled[2:, 1:-1])
    cols, rows = np.nonzero((border & touch).T)  # column by column, like ImageJ's pixel list
    fifo = deque((rows * w + cols).tolist())
    for p in fifo:
        lab[p] = _INQUEUE
    flag = False
    while fifo:
        p = fifo.popleft()
        r, c = divmod(p, w)
        for ok, q in ((c > 0, p - 1), (r > 0, p - w), (c < w - 1, p + 1), (r < h - 1, p + w)):
            if not ok:
                continue
            lq = lab[q]
            if lq > 0:
                if lab[p] == _INQUEUE or (lab[p] == _WSHED and flag):
                    lab[p] = lq
                elif lab[p] > 0 and lab[p] != lq:
                    lab[p] = _WSHED
                    flag = False
            elif lq == _WSHED:
                if lab[p] == _INQUEUE:
                    lab[p] = _WSHED
                    flag = True
            elif lq == _MASK:
                lab[q] = _INQUEUE
                fifo.append(q)
    out = np.asarray(lab, np.int64).reshape(h, w)
    rest = out == _MASK
    if rest.any():  # border regions without a cell: new minima
        extra = connected_components(rest, connectivity=1)
        out[rest] = extra[rest] + max(int(out.max()), 0)
    out[out < 0] = 0
    return out.astype(np.int32)


def _contingency(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Joint counts of (GT label, predicted label) over GT-foreground pixels, normalised by
    n, as (rows, cols, p) of the non-zero entries; and n."""
    fg = np.asarray(gt).ravel() != 0
    n = float(fg.sum())
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0
    gt_ids, pred_ids, table = contingency(np.asarray(gt).ravel()[fg],
                                          np.asarray(pred).ravel()[fg])
    r, c = np.nonzero(table)
    return gt_ids[r], pred_ids[c], table[r, c] / n


def rand_info_scores(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(V_Rand, V_Info) of one slice: foreground-restricted Rand and information-theoretic
    F-scores, N^2 normalisation, predicted-0 pixels in GT foreground as singletons (Fiji's
    ``getForegroundRestrictedRandIndexStatsN2`` and ``foregroundRestrictedFscore``).

    gt, pred: (H, W) integer labels, 0 = GT background / predicted dam.
    """
    rows, cols, p = _contingency(gt, pred)
    if p.size == 0:
        return 0.0, 0.0
    n = float((np.asarray(gt) != 0).sum())
    aux = float(p[cols == 0].sum())
    inner = cols != 0
    ai = np.bincount(rows, weights=p)
    bj = np.bincount(cols[inner], weights=p[inner])
    # Rand: precision = sumAB2 / sumB2, recall = sumAB2 / sumA2 (1 when no FP / FN)
    sum_a2 = float((ai ** 2).sum())
    sum_b2 = float((bj ** 2).sum()) + aux / n
    sum_ab2 = float((p[inner] ** 2).sum()) + aux / n
    tp, n2 = n * n * sum_ab2, n * n
    fp, fn = n2 * sum_b2 - tp, n2 * sum_a2 - tp
    prec = 1.0 if fp == 0 else tp / (tp + fp)
    rec = 1.0 if fn == 0 else tp / (tp + fn)
    v_rand = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0

    def plogp(x: np.ndarray) -> float:
        x = x[x > 0]
        return float((x * np.log(x)).sum())

    sum_a = plogp(ai)
    sum_b = plogp(bj) - aux * np.log(n)
    sum_ab = plogp(p[inner]) - aux * np.log(n)
    ha, hb = -sum_a, -sum_b
    hab, hba = sum_b - sum_ab, sum_a - sum_ab
    if hb == 0:
        prec, rec = 1.0, 0.0
    elif ha == 0:
        prec, rec = 0.0, 1.0
    else:
        prec, rec = (ha - hab) / ha, (hb - hba) / hb
    v_info = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return float(v_rand), float(v_info)


def isbi_measures(prob_cell: np.ndarray, labels: np.ndarray,
                  thresholds: Iterable[float] = ISBI_THRESHOLDS) -> dict:
    """The ISBI 2012 scores of a cell-probability stack against its label stack.

    prob_cell: (Z, H, W) or (H, W), 1 = cell, 0 = membrane; labels: same shape, > 0 for cell
    (1 or 255) and 0 for membrane. Returns rand_error and info_error (1 - the best
    slice-averaged V_Rand / V_Info over thresholds), the thresholds that gave them, the
    pixel error at 0.5, and V_Rand / V_Info per threshold.
    """
    prob = np.asarray(prob_cell, np.float32)
    prob = prob[None] if prob.ndim == 2 else prob
    truth = np.asarray(labels).reshape(prob.shape)
    if prob.ndim != 3:
        raise ValueError(f"expected (Z, H, W) or (H, W) stacks, got {prob.shape}")
    gts = [connected_components(s > 0, connectivity=1) for s in truth]
    v_rand: dict[float, float] = {}
    v_info: dict[float, float] = {}
    for t in thresholds:
        scores = [rand_info_scores(g, thin_borders(s > t)) for g, s in zip(gts, prob,
                                                                           strict=True)]
        v_rand[float(t)] = float(np.mean([r for r, _ in scores]))
        v_info[float(t)] = float(np.mean([i for _, i in scores]))
    best_r = max(v_rand, key=v_rand.get)
    best_i = max(v_info, key=v_info.get)
    return {"rand_error": 1.0 - v_rand[best_r], "rand_threshold": best_r,
            "info_error": 1.0 - v_info[best_i], "info_threshold": best_i,
            "pixel_error": float(np.mean((prob > 0.5) != (truth > 0))),
            "v_rand_by_threshold": v_rand, "v_info_by_threshold": v_info}
