"""Pictures for checking by eye: training targets in the style of the paper's Fig. 3.

All figures are written with matplotlib's Agg backend, each PNG atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.color import label2rgb
from skimage.segmentation import find_boundaries

from ctc_unet.files import atomic_write

logger = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 100) -> Path:
    """Save a matplotlib figure to ``path`` atomically and close it."""
    atomic_write(Path(path), lambda p: fig.savefig(p, format="png", dpi=dpi,
                                                   bbox_inches="tight"))
    _pyplot().close(fig)
    return Path(path)


def overlay(image: np.ndarray, labels: np.ndarray, ignore: np.ndarray | None = None
            ) -> np.ndarray:
    """RGB (H, W, 3) of a gray image with coloured instances, white contours, and ignored
    pixels tinted gray."""
    img = np.clip(image, 0, 1)
    rgb = label2rgb(labels, img, alpha=0.3, bg_label=0, bg_color=None, kind="overlay")
    rgb[find_boundaries(labels, mode="inner")] = (1.0, 1.0, 1.0)
    if ignore is not None:
        rgb[ignore] = 0.5 * rgb[ignore] + 0.5 * np.array([0.6, 0.6, 0.6])
    return rgb


def _panel(ax, data, title: str, **kwargs) -> None:
    im = ax.imshow(data, interpolation="nearest", **kwargs)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return im


def target_figures(
    image: np.ndarray,
    labels: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    *, ignore: np.ndarray | None,
    samples: Sequence[dict[str, np.ndarray]],
    out_dir: Path,
    title: str = "",
) -> list[Path]:
    """Write raw, GT overlay, 2-class target, weight map, an overview of the four (like the
    paper's Fig. 3) and one PNG per augmented sample. Returns the written paths.

    image: (H, W) float in about [0, 1]; labels: (H, W) instances; target: (H, W) 0/1;
    weights: (H, W); samples: dicts of (tile, tile) ``image`` and (out, out) ``label`` /
    ``weight`` arrays.
    """
    plt = _pyplot()
    out_dir = Path(out_dir)
    written: list[Path] = []
    shown_target = target.astype(np.float32)
    if ignore is not None:
        shown_target[ignore] = 0.5
    panels = [
        ("raw", "raw image", np.clip(image, 0, 1), {"cmap": "gray"}),
        ("gt_overlay", "annotation (gray: ignored)", overlay(image, labels, ignore), {}),
        ("target", "target: cells, background + borders", shown_target,
         {"cmap": "gray", "vmin": 0, "vmax": 1}),
        ("weights", "weight map", weights, {"cmap": "jet"}),
    ]
    for name, label, data, kw in panels:
        fig, ax = plt.subplots(figsize=(6, 6))
        im = _panel(ax, data, f"{title} {label}".strip(), **kw)
        if name == "weights":
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        written.append(save_figure(fig, out_dir / f"{name}.png"))
    fig, axes = plt.subplots(1, 4, figsize=(20, 5.4))
    for ax, (name, label, data, kw) in zip(axes, panels, strict=True):
        im = _panel(ax, data, label, **kw)
        if name == "weights":
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(title)
    written.append(save_figure(fig, out_dir / "overview.png"))

    for k, s in enumerate(samples):
        img, lab, w = (np.asarray(s[key]).squeeze() for key in ("image", "label", "weight"))
        m = (img.shape[0] - lab.shape[0]) // 2
        fig, axes = plt.subplots(1, 3, figsize=(15, 5.4))
        _panel(axes[0], img, f"augmented tile {img.shape[0]} px", cmap="gray")
        axes[0].add_patch(plt.Rectangle((m - 0.5, m - 0.5), lab.shape[1], lab.shape[0],
                                        fill=False, edgecolor="yellow", linewidth=1.5))
        _panel(axes[1], lab, f"target, output window {lab.shape[0]} px", cmap="gray",
               vmin=0, vmax=1)
        im = _panel(axes[2], w, "weights", cmap="jet")
        fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
        written.append(save_figure(fig, out_dir / f"augmented_{k + 1}.png"))
    return written


def training_curves(records: Sequence[dict], path: Path) -> Path | None:
    """Loss (and its running mean) and validation scores over iterations, from metrics records.
    Returns None when there is nothing to plot yet."""
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    if not train and not val:
        return None
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    if train:
        its = [r["iteration"] for r in train]
        ax1.plot(its, [r["loss"] for r in train], lw=0.8, alpha=0.5, label="loss (window mean)")
        ax1.set_yscale("log")
        ax1.set_xlabel("iteration")
        ax1.set_title("weighted cross-entropy")
        ax1.legend()
    keys = sorted({k for r in val for k in r if k.startswith("val_") and k != "val_score"})
    for key in keys:
        pts = [(r["iteration"], r[key]) for r in val if key in r]
        ax2.plot(*zip(*pts, strict=True), marker="o", ms=3, label=key[4:])
    ax2.set_xlabel("iteration")
    ax2.set_title("validation")
    if keys:
        ax2.legend()
    return save_figure(fig, path)


def contour_overlay(image: np.ndarray, reference: np.ndarray | None, result: np.ndarray,
                    path: Path, *, title: str = "") -> Path:
    """Raw image with GT contours (green) and predicted contours (magenta); PNG."""
    plt = _pyplot()
    rgb = np.repeat(np.clip(image, 0, 1)[..., None], 3, axis=2)
    if reference is not None:
        rgb[find_boundaries(reference, mode="inner")] = (0.1, 0.9, 0.1)
    rgb[find_boundaries(result, mode="inner")] = (1.0, 0.1, 1.0)
    fig, ax = plt.subplots(figsize=(7, 7))
    _panel(ax, rgb, title or "green: ground truth, magenta: prediction")
    return save_figure(fig, path)


def lineage_rows(tracks: Sequence[tuple[int, int, int, int]]) -> dict[int, float]:
    """Row of each track in a lineage plot: tracks ``(label, begin, end, parent)``, trees
    laid out depth-first (roots by begin frame), each leaf on the next row and a mother
    between her daughters, so that a tree reads as a dendrogram over time."""
    children: dict[int, list[tuple[int, int]]] = {}
    labels = {t[0] for t in tracks}
    for label, begin, _, parent in tracks:
        if parent and parent in labels:
            children.setdefault(parent, []).append((begin, label))
    rows: dict[int, float] = {}
    next_row = 0.0

    def place(label: int) -> float:
        nonlocal next_row
        kids = sorted(children.get(label, []))
        if not kids:
            rows[label], next_row = next_row, next_row + 1.0
        else:
            rows[label] = float(np.mean([place(k) for _, k in kids]))
        return rows[label]

    stack = sorted((b, lab) for lab, b, _, p in tracks if not (p and p in labels))
    for _, root in stack:
        place(root)
    return rows


def lineage_plot(panels: Sequence[tuple[str, Sequence[tuple[int, int, int, int]]]],
                 path: Path, title: str) -> Path:
    """Lineage trees of tracks ``(label, begin, end, parent)`` over time, one panel per
    (name, tracks): a track is a line from its first to its last frame, a division a dot
    where two or more daughters branch off, a single daughter (a gap the tracker bridged)
    a dashed link."""
    plt = _pyplot()
    height = max(3.0, 0.12 * max((len(t) for _, t in panels), default=1))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), min(height, 30)),
                             squeeze=False)
    for ax, (name, tracks) in zip(axes[0], panels, strict=True):
        rows = lineage_rows(tracks)
        ends = {t[0]: t[2] for t in tracks}
        n_children: dict[int, int] = {}
        for _, _, _, parent in tracks:
            if parent in ends:
                n_children[parent] = n_children.get(parent, 0) + 1
        for label, begin, end, parent in tracks:
            y = rows[label]
            ax.plot([begin, end + 1], [y, y], lw=1.2, color="tab:blue")
            if parent in ends:
                x = ends[parent] + 1
                style = "-" if n_children[parent] >= 2 else "--"
                ax.plot([x, x, begin], [rows[parent], y, y], style, lw=0.8, color="tab:gray")
        for parent, n in n_children.items():
            if n >= 2:
                ax.plot(ends[parent] + 1, rows[parent], "o", ms=4, color="tab:red")
        divisions = sum(n >= 2 for n in n_children.values())
        ax.set_title(f"{name}: {len(tracks)} tracks, {divisions} divisions")
        ax.set_xlabel("frame")
        ax.set_yticks([])
        ax.invert_yaxis()
    fig.suptitle(title)
    return save_figure(fig, path)


def image_and_probability(image: np.ndarray, prob: np.ndarray, path: Path) -> Path:
    """Two panels, 2:1 (a bioimage.io cover): an (H, W) image in about [0, 1] and its (H, W)
    cell probability."""
    fig, axes = _pyplot().subplots(1, 2, figsize=(8, 4), dpi=100)
    for ax, data, title, cmap in ((axes[0], np.clip(image, 0, 1), "input", "gray"),
                                  (axes[1], prob, "P(cell)", "magma")):
        ax.imshow(data, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def division_sheet(rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray, np.ndarray]]]],
                   path: Path, title: str) -> Path:
    """A contact sheet of divisions: one row per (name, panels), each panel (caption, image
    (h, w) in about [0, 1], labels (h, w)) drawn as the gray image with coloured instances,
    white contours and every label's track id at its centre, so that a false division (a
    cell broken into two fragments, a neighbour taken for a daughter) is seen at a glance."""
    from scipy import ndimage as ndi

    plt = _pyplot()
    cols = max((len(p) for _, p in rows), default=1)
    fig, axes = plt.subplots(max(len(rows), 1), cols, figsize=(2.6 * cols, 2.8 * len(rows)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, (name, panels) in enumerate(rows):
        for c, (caption, image, labels) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(overlay(image, labels))
            ids = [i for i in np.unique(labels) if i]
            for i, (y, x) in zip(ids, ndi.center_of_mass(labels > 0, labels, ids), strict=True):
                ax.text(x, y, str(i), color="yellow", fontsize=7, ha="center", va="center")
            ax.set_title(f"{name}: {caption}" if c == 0 else caption, fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)
