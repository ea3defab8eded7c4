"""Printing reports for people: rich tables at a terminal, plain text in a batch job."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def console() -> Console:
    """A console on standard output."""
    return Console()


def print_report(report) -> None:
    """Render an inspection report as tables and warning lines."""
    out = console()
    out.print(f"{report.root}  [{report.kind}]", markup=False, soft_wrap=True)
    if report.summary:
        table = Table(show_header=False)
        for key, value in report.summary.items():
            table.add_row(key, value)
        out.print(table)
    if report.sequences:
        table = Table()
        for col in ("seq", "frames", "size", "dtype", "GT SEG", "TRA", "tracks (div.)", "ST"):
            table.add_column(col)
        for s in report.sequences:
            table.add_row(s.name, f"{s.n_frames} ({s.first}-{s.last})",
                          "x".join(map(str, s.shape)), s.dtype, str(len(s.gt_seg_frames)),
                          str(s.gt_tra_frames),
                          f"{s.n_tracks} ({s.n_divisions})" if s.n_tracks else "-",
                          str(s.st_frames))
        out.print(table)
        for s in report.sequences:
            if s.cells_per_gt:
                cells = ", ".join(f"{t:0{s.digits}d} ({n})" for t, n in s.cells_per_gt.items())
                out.print(f"{s.name} GT SEG frames (cells): {cells}", markup=False,
                              highlight=False, soft_wrap=True)
    for w in report.warnings:
        out.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)


def print_rows(rows: list[dict], written: tuple[Path, ...] = ()) -> None:
    """Print evaluation rows as a table with one line per measure and one column per row
    (sequence or setting), so that many measures fit a terminal, and the files written."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    shown = [c for c in columns if c not in ("dataset", "Valid")]
    key = next((c for c in ("sequence", "tta", "prediction") if c in shown), None)
    table = Table(title=f"{rows[0].get('dataset', '')}")
    table.add_column("measure", no_wrap=True)
    for i, r in enumerate(rows):
        table.add_column(str(r[key]) if key else str(i + 1), no_wrap=True, justify="right")
    for c in shown:
        if c == key:
            continue
        table.add_row(c, *("" if r.get(c) is None else f"{r[c]:.4f}" if isinstance(r[c], float)
                           else str(r[c]) for r in rows))
    out = console()
    out.print(table)
    if written:
        out.print("written: " + ", ".join(str(p) for p in written), markup=False,
                  highlight=False, soft_wrap=True)
