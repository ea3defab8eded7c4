"""The ctc-unet CLI through typer's CliRunner: help texts, reports and one-line errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tifffile
from conftest import make_ctc_zip, write_isbi
from typer.testing import CliRunner

from ctc_unet.cli.app import app

runner = CliRunner()
COMMANDS = ["datasets", "download", "inspect", "targets", "demo"]


def run(*args: str, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    for f in fragments:
        assert f in errors[0]


def test_top_level_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in result.output


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help(cmd):
    result = run(cmd, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output and len(result.output) > 200


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("ctc-unet ")


def test_datasets_table_shows_presence(synthetic_root, tmp_path, monkeypatch):
    shutil.copytree(synthetic_root, tmp_path / "DIC-C2DH-HeLa")
    monkeypatch.setenv("CTC_DATA_DIR", str(tmp_path))
    result = run("datasets")
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if "DIC-C2DH-HeLa" in line)
    assert "yes" in row and "DIC-HeLa" in row
    row = next(line for line in result.output.splitlines() if "PhC-C2DH-U373" in line)
    assert "yes" not in row


def test_inspect_synthetic_reports_partial_frame(synthetic_root):
    result = run("inspect", str(synthetic_root))
    assert result.exit_code == 0, result.output
    assert "ctc-training" in result.output
    assert "frame 004 is partly annotated: 2 of" in result.output
    assert "256x256" in result.output


def test_inspect_isbi(tmp_path):
    result = run("inspect", str(write_isbi(tmp_path / "isbi")))
    assert result.exit_code == 0
    assert "3 x 32x32 uint8" in result.output and "binary" in result.output


def test_inspect_accepts_a_dataset_name(synthetic_root, tmp_path):
    shutil.copytree(synthetic_root, tmp_path / "DIC-C2DH-HeLa")
    result = run("inspect", "DIC-HeLa", "--data-dir", str(tmp_path))
    assert result.exit_code == 0 and "ctc-training" in result.output


def test_download_through_a_mirror(server, tmp_path):
    url, www, _ = server
    make_ctc_zip(www / "training-datasets" / "PhC-C2DH-U373.zip", "PhC-C2DH-U373")
    result = run("download", "PhC-U373", "--data-dir", str(tmp_path), "--mirror", url)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "PhC-C2DH-U373" / "01" / "t000.tif").is_file()


def test_demo_generates_and_inspects(tmp_path):
    result = run("demo", "--out", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "data" / "Synthetic-C2DH" / "01_GT" / "TRA" / "man_track.txt"
            ).is_file()
    assert "partly annotated" in result.output


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def copy(synthetic_root, tmp_path):
    dst = tmp_path / "ds"
    shutil.copytree(synthetic_root, dst)
    return dst


def test_error_missing_folder(tmp_path):
    assert_one_line_error(run("inspect", str(tmp_path / "nowhere")), "nowhere",
                          "folder not found")


def test_error_no_frames(tmp_path):
    (tmp_path / "01").mkdir()
    assert_one_line_error(run("inspect", str(tmp_path)), "01", "no frames")


def test_error_gt_shape_mismatch(copy):
    tifffile.imwrite(copy / "01_GT" / "SEG" / "man_seg004.tif", np.zeros((30, 40), np.uint16))
    assert_one_line_error(run("inspect", str(copy)), "man_seg004.tif", "(30, 40)",
                          "differs from its frame")


def test_error_non_integer_gt(copy):
    tifffile.imwrite(copy / "02_GT" / "SEG" / "man_seg007.tif",
                     np.zeros((256, 256), np.float32))
    assert_one_line_error(run("inspect", str(copy)), "man_seg007.tif", "float32")


def test_error_unreadable_tiff(copy):
    (copy / "02" / "t003.tif").write_bytes(b"\x00garbage")
    assert_one_line_error(run("inspect", str(copy)), "t003.tif", "unreadable TIFF")


def test_error_unreadable_st(copy):
    (copy / "01_ST" / "SEG" / "man_seg000.tif").write_bytes(b"II*\x00broken")
    assert_one_line_error(run("inspect", str(copy)), "man_seg000.tif", "unreadable TIFF")


def test_error_bad_track_file(copy):
    (copy / "01_GT" / "TRA" / "man_track.txt").write_text("1 0 9\n")
    assert_one_line_error(run("inspect", str(copy)), "man_track.txt:1")


def test_error_isbi_labels_not_binary(tmp_path):
    root = write_isbi(tmp_path / "isbi", labels=np.full((3, 32, 32), 7, np.uint8))
    assert_one_line_error(run("inspect", str(root)), "train-labels.tif", "binary")


def test_error_unknown_dataset_name():
    assert_one_line_error(run("download", "DIC-Hella"), "unknown dataset", "DIC-HeLa")


def test_error_download_unreachable_server(tmp_path):
    result = run("download", "Fluo-GOWT1", "--data-dir", str(tmp_path), "--mirror",
                 "http://127.0.0.1:9")
    assert_one_line_error(result, "cannot be reached", "--mirror")
    assert not (tmp_path / "Fluo-N2DH-GOWT1").exists() and not (tmp_path / ".archives").exists()


def test_targets_writes_figure_3_pngs(synthetic_root, tmp_path):
    out = tmp_path / "fig"
    result = run("targets", str(synthetic_root), "--frame", "4", "--out", str(out),
                 "--samples", "2", "--tile", "188")
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.glob("*.png")}
    assert names == {"raw.png", "gt_overlay.png", "target.png", "weights.png", "overview.png",
                     "augmented_1.png", "augmented_2.png"}
    assert all(p.stat().st_size > 1000 for p in out.glob("*.png"))
    assert not list(out.glob(".*"))  # no temporary files left


def test_targets_from_silver_truth_and_isbi(synthetic_root, tmp_path):
    result = run("targets", str(synthetic_root), "--source", "ST", "--frame", "5", "--out",
                 str(tmp_path / "st"), "--samples", "0")
    assert result.exit_code == 0, result.output
    result = run("targets", str(write_isbi(tmp_path / "isbi")), "--frame", "2", "--out",
                 str(tmp_path / "em"), "--samples", "1", "--tile", "188")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "em" / "augmented_1.png").is_file()


def test_error_targets_frame_without_annotation(synthetic_root, tmp_path):
    result = run("targets", str(synthetic_root), "--frame", "5", "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "frame 5 has no GT annotation", "1, 4, 7")


def test_error_targets_bad_source_and_tile(synthetic_root, tmp_path):
    assert_one_line_error(run("targets", str(synthetic_root), "--source", "gold", "--out",
                              str(tmp_path)), "must be one of GT, ST, GT+ST")
    assert_one_line_error(run("targets", str(synthetic_root), "--tile", "570", "--out",
                              str(tmp_path)), "tile size 570", "572")


def test_os_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("CTC_UNET_DEBUG", "0")  # restored after the test (--debug sets it)
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    args = ["download", "DIC-HeLa", "--data-dir", str(target / "data")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and str(target) in lines[0] and "Traceback" not in result.output
    debug = CliRunner().invoke(app, ["--debug", *args])
    assert debug.exit_code != 0 and isinstance(debug.exception, OSError)
