"""Evaluation reports: rows of measures as CSV and JSON files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ctc_unet.files import write_text_atomic


def format_table(rows: list[dict], columns: list[str]) -> str:
    """CSV text of ``rows`` with ``columns`` (a cell holding a comma is quoted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow("" if r.get(c) is None else
                        (f"{r[c]:.6f}" if isinstance(r[c], float) else str(r[c]))
                        for c in columns)
    return out.getvalue()


def write_report(rows: list[dict], dest: Path) -> tuple[Path, Path]:
    """Write ``rows`` as ``dest/evaluation.json`` and ``dest/evaluation.csv`` (atomically)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    write_text_atomic(dest / "evaluation.json", json.dumps(rows, indent=1))
    write_text_atomic(dest / "evaluation.csv", format_table(rows, columns))
    return dest / "evaluation.json", dest / "evaluation.csv"
