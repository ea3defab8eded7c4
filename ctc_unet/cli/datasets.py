"""``ctc-unet datasets``."""

from __future__ import annotations

from ctc_unet.cli.options import DataDirOption, user_errors


@user_errors
def datasets(*, data_dir: DataDirOption = None) -> None:
    """List the known datasets, their aliases, and whether they are present locally."""
    from rich.table import Table

    from ctc_unet import api
    from ctc_unet.cli.render import console

    rows = api.datasets(data_dir=data_dir)
    table = Table(title=f"Datasets (data root: {rows[0]['data_root']})")
    for col in ("name", "aliases", "training", "challenge"):
        table.add_column(col)
    for r in rows:
        challenge = "-" if r["challenge"] is None else ("yes" if r["challenge"] else "no")
        table.add_row(r["name"], ", ".join(r["aliases"]), "yes" if r["training"] else "no",
                      challenge)
    console().print(table)
