"""Downloads against a local HTTP server on 127.0.0.1 (no internet needed)."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace

import pytest
from conftest import make_ctc_zip

from ctc_unet.data.download import dataset_dir, download_dataset, is_present, safe_extract
from ctc_unet.data.registry import resolve
from ctc_unet.errors import DownloadError

INFO = resolve("DIC-HeLa")


def test_download_extracts_training_and_challenge(server, tmp_path):
    url, www, _ = server
    make_ctc_zip(www / "training-datasets" / f"{INFO.name}.zip", INFO.name)
    make_ctc_zip(www / "test-datasets" / f"{INFO.name}.zip", INFO.name, with_gt=False)
    data = tmp_path / "data"
    path = download_dataset(INFO, data, base_url=url)
    assert path == data / INFO.name and is_present(INFO, data)
    assert (path / "01" / "t000.tif").is_file() and (path / "01_GT").is_dir()
    cpath = download_dataset(INFO, data, challenge=True, base_url=url)
    assert cpath == dataset_dir(INFO, data, challenge=True) == data / "challenge" / INFO.name
    assert not list((data / ".archives").iterdir())  # archives removed after extraction
    assert not [p for p in data.iterdir() if p.name.startswith(".DIC")]  # no staging left
    # second call is a no-op even with the server gone
    assert download_dataset(INFO, data, base_url="http://127.0.0.1:9") == path


def test_checksum_is_verified_when_known(server, tmp_path):
    url, www, _ = server
    archive = make_ctc_zip(www / "training-datasets" / f"{INFO.name}.zip", INFO.name)
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    data = tmp_path / "data"
    with pytest.raises(DownloadError, match="checksum"):
        download_dataset(replace(INFO, train_sha256="0" * 64), data, base_url=url)
    assert not (data / INFO.name).exists()
    assert not data.exists()  # neither the bad archive nor the folders made for it
    assert download_dataset(replace(INFO, train_sha256=good), data, base_url=url).is_dir()


def test_interrupted_download_leaves_nothing_that_looks_complete(server, tmp_path):
    url, www, handler = server
    make_ctc_zip(www / "training-datasets" / f"{INFO.name}.zip", INFO.name)
    handler.truncate.add(f"training-datasets/{INFO.name}.zip")
    data = tmp_path / "data"
    with pytest.raises(DownloadError, match="download failed"):
        download_dataset(INFO, data, base_url=url)
    assert not data.exists()  # neither half an archive nor the folders made for it


def test_missing_file_on_server(server, tmp_path):
    url, _, _ = server
    with pytest.raises(DownloadError, match="404"):
        download_dataset(INFO, tmp_path / "data", base_url=url)


def test_archive_with_wrong_layout_is_rejected(server, tmp_path):
    url, www, _ = server
    make_ctc_zip(www / "training-datasets" / f"{INFO.name}.zip", "Other-Name")
    data = tmp_path / "data"
    with pytest.raises(DownloadError, match="expected layout"):
        download_dataset(INFO, data, base_url=url)
    assert not (data / INFO.name).exists()


def test_not_a_zip_is_rejected_and_deleted(server, tmp_path):
    url, www, _ = server
    (www / "training-datasets").mkdir()
    (www / "training-datasets" / f"{INFO.name}.zip").write_bytes(b"<html>maintenance</html>")
    data = tmp_path / "data"
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_dataset(INFO, data, base_url=url)
    assert not (data / INFO.name).exists() and not list((data / ".archives").iterdir())


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_safe_extract_rejects_escaping_members(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr(member, "evil")
    target = tmp_path / "out" / "inner"
    target.mkdir(parents=True)
    with pytest.raises(DownloadError, match="outside the target"):
        safe_extract(archive, target)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()
    assert not (target / "ok.txt").exists()  # nothing extracted before the check


def test_safe_extract_rejects_symlinks(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DownloadError, match="symbolic link"):
        safe_extract(archive, tmp_path / "out")


def test_isbi_has_no_public_download(tmp_path):
    with pytest.raises(DownloadError, match=r"train-volume\.tif"):
        download_dataset(resolve("ISBI2012"), tmp_path)


def test_incomplete_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / INFO.name).mkdir()
    with pytest.raises(DownloadError, match="not a complete copy"):
        download_dataset(INFO, tmp_path, base_url="http://127.0.0.1:9")
