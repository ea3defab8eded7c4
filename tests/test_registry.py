import pytest

from ctc_unet.data.registry import CTC_SERVER, DATASETS, all_names, resolve
from ctc_unet.errors import UnknownDatasetError

OFFICIAL_2D = [
    "PhC-C2DH-U373", "DIC-C2DH-HeLa", "Fluo-N2DH-GOWT1", "Fluo-N2DL-HeLa", "PhC-C2DL-PSC",
    "Fluo-C2DL-MSC", "Fluo-N2DH-SIM+", "BF-C2DL-HSC", "BF-C2DL-MuSC", "Fluo-C2DL-Huh7",
]


@pytest.mark.parametrize("name", [*OFFICIAL_2D, "ISBI2012"])
def test_every_official_name_resolves_to_itself(name):
    assert resolve(name).name == name


@pytest.mark.parametrize(("alias", "name"), [
    ("PhC-U373", "PhC-C2DH-U373"), ("dic-hela", "DIC-C2DH-HeLa"), ("Fluo-HeLa", "Fluo-N2DL-HeLa"),
    (" isbi-2012 ", "ISBI2012"), ("BF-MuSC", "BF-C2DL-MuSC"),
])
def test_aliases_are_case_insensitive(alias, name):
    assert resolve(alias).name == name


def test_names_and_aliases_are_unique():
    names = [n.lower() for n in all_names()]
    assert len(names) == len(set(names))


def test_unknown_name_lists_close_matches_on_one_line():
    with pytest.raises(UnknownDatasetError) as err:
        resolve("DIC-Hela2")
    msg = str(err.value)
    assert "\n" not in msg
    assert "DIC-HeLa" in msg or "DIC-C2DH-HeLa" in msg


def test_unknown_name_without_match_still_helps():
    with pytest.raises(UnknownDatasetError, match="ctc-unet datasets"):
        resolve("zzzz")


def test_urls_point_to_the_ctc_data_server_and_hashes_are_not_invented():
    info = resolve("PhC-U373")
    assert info.train_url() == f"{CTC_SERVER}/training-datasets/PhC-C2DH-U373.zip"
    assert info.challenge_url() == f"{CTC_SERVER}/test-datasets/PhC-C2DH-U373.zip"
    assert resolve("ISBI2012").train_url() is None
    for d in DATASETS:
        assert d.train_sha256 == "" or len(d.train_sha256) == 64
