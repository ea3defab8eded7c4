"""Registry of the 2D Cell Tracking Challenge datasets and ISBI 2012, with aliases."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from ctc_unet.errors import UnknownDatasetError

CTC_SERVER = "http://data.celltrackingchallenge.net"

DatasetKind = Literal["ctc", "isbi2012"]


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset: official name, aliases, what it shows and where it comes from.

    ``train_sha256`` / ``challenge_sha256`` are the archives' SHA-256 digests. They are empty
    until someone records them from a verified download: an empty digest means "not checked",
    never a made-up value.
    """

    name: str
    kind: DatasetKind
    description: str
    aliases: tuple[str, ...] = ()
    train_sha256: str = ""
    challenge_sha256: str = ""
    files: tuple[str, ...] = field(default=())

    def train_url(self, base_url: str = CTC_SERVER) -> str | None:
        """URL of the training archive, or None where there is no public download."""
        if self.kind != "ctc":
            return None
        return f"{base_url.rstrip('/')}/training-datasets/{self.name}.zip"

    def challenge_url(self, base_url: str = CTC_SERVER) -> str | None:
        """URL of the challenge (test) archive, or None where there is no public download."""
        if self.kind != "ctc":
            return None
        return f"{base_url.rstrip('/')}/test-datasets/{self.name}.zip"


DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo("PhC-C2DH-U373", "ctc", "Glioblastoma-astrocytoma U373 cells, phase contrast",
                ("PhC-U373", "U373")),
    DatasetInfo("DIC-C2DH-HeLa", "ctc", "HeLa cells on a flat glass, DIC", ("DIC-HeLa",)),
    DatasetInfo("Fluo-N2DH-GOWT1", "ctc", "GFP-GOWT1 mouse stem cells, fluorescence",
                ("Fluo-GOWT1", "GOWT1")),
    DatasetInfo("Fluo-N2DL-HeLa", "ctc", "HeLa cells stably expressing H2b-GFP, fluorescence",
                ("Fluo-HeLa",)),
    DatasetInfo("PhC-C2DL-PSC", "ctc", "Pancreatic stem cells on a polystyrene substrate, "
                "phase contrast", ("PhC-PSC", "PSC")),
    DatasetInfo("Fluo-C2DL-MSC", "ctc", "Rat mesenchymal stem cells on a flat polyacrylamide "
                "substrate, fluorescence", ("Fluo-MSC", "MSC")),
    DatasetInfo("Fluo-N2DH-SIM+", "ctc", "Simulated nuclei of HL60 cells, fluorescence",
                ("Fluo-SIM+", "SIM+")),
    DatasetInfo("BF-C2DL-HSC", "ctc", "Mouse hematopoietic stem cells in hydrogel microwells, "
                "bright field", ("BF-HSC", "HSC")),
    DatasetInfo("BF-C2DL-MuSC", "ctc", "Mouse muscle stem cells in hydrogel microwells, "
                "bright field", ("BF-MuSC", "MuSC")),
    DatasetInfo("Fluo-C2DL-Huh7", "ctc", "Human hepatocarcinoma-derived cells expressing the "
                "fusion protein YFP-TIA-1, fluorescence", ("Fluo-Huh7", "Huh7")),
    DatasetInfo("ISBI2012", "isbi2012", "ISBI 2012 EM segmentation challenge: Drosophila first "
                "instar larva ventral nerve cord, serial-section TEM",
                ("ISBI-2012", "EM"), files=("train-volume.tif", "train-labels.tif",
                                             "test-volume.tif")),
)

_BY_KEY: dict[str, DatasetInfo] = {}
for _info in DATASETS:
    for _key in (_info.name, *_info.aliases):
        _BY_KEY[_key.lower()] = _info


def all_names() -> list[str]:
    """Every accepted spelling: official names and aliases."""
    return [k for info in DATASETS for k in (info.name, *info.aliases)]


def resolve(name: str) -> DatasetInfo:
    """Look a dataset up by official name or alias (case-insensitive).

    Raises UnknownDatasetError with close matches when the name is not known.
    """
    info = _BY_KEY.get(name.strip().lower())
    if info is not None:
        return info
    names = all_names()
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=4, cutoff=0.5)
    # Substring hits catch short inputs such as "hela" that difflib ranks low.
    close += [k for k in lowered if name.lower() in k and k not in close]
    suggestions = ", ".join(dict.fromkeys(lowered[c] for c in close[:5]))
    hint = f"; did you mean: {suggestions}?" if suggestions else ""
    raise UnknownDatasetError(
        f"unknown dataset {name!r}{hint} (run `ctc-unet datasets` for the list)"
    )
