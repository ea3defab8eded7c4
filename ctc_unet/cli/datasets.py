"""``ctc-unet datasets``."""

from __future__ import annotations

from ctc_unet.cli.options import DataDirOption, user_errors


@user_errors
def datasets(data_dir: DataDirOption = None) -> None:
    """List the known datasets, their aliases, and whether they are present locally."""
    from rich.table import Table

    from ctc_unet.cli.render import console
    from ctc_unet.data.download import is_present, resolve_data_dir
    from ctc_unet.data.registry import DATASETS

    root = resolve_data_dir(data_dir)
    table = Table(title=f"Datasets (data root: {root})")
    for col in ("name", "aliases", "training", "challenge"):
        table.add_column(col)
    for info in DATASETS:
        present = is_present(info, root)
        challenge = "-" if info.kind != "ctc" else ("yes" if is_present(info, root, True) else "no")
        table.add_row(info.name, ", ".join(info.aliases), "yes" if present else "no", challenge)
    console().print(table)
