"""The second fault corpus: outputs that are inputs, outputs that would replace what
ctc-unet did not write, poisoned checkpoints, half-written evaluations, result folders that
py-ctcmetrics would choke on, and names with a trailing newline.

Each refusal keeps the contract of ``test_faults.py``: a non-zero exit, one ``Error:`` line
naming the user's file and the problem, no traceback, inputs and output location as they
were, no staging litter.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
import yaml
from conftest import TINY_OVERRIDES, result_folder
from test_faults import Case, check_contract, invoke
from typer.testing import CliRunner

from ctc_unet.cli.app import app


def _masks(data: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(data / "01_ST" / "SEG", tmp_path / "work" / "masks"))


def _litter(folder: Path) -> list[Path]:
    return [p for p in Path(folder).rglob(".*") if p.name.endswith(".part")
            or ".tmp-" in p.name or ".old-" in p.name]


def _check(case: Case, monkeypatch, tmp_path: Path) -> None:
    check_contract(case, *invoke(case, monkeypatch))
    assert not _litter(tmp_path), _litter(tmp_path)


def _poison(run: Path, value: float | None) -> Path:
    """Every floating tensor of the run's chosen checkpoint set to ``value`` (NaN, 0)."""
    path = run / "checkpoint_best.pt"
    if not path.is_file():
        path = run / "checkpoint_last.pt"
    state = torch.load(path, weights_only=True)
    for v in state["model"].values():
        if v.is_floating_point():
            v.fill_(value)
    torch.save(state, path)
    return path


# --------------------------------------------------------------------------- output = input


def case_track_out_is_its_input(data, run, tmp_path):
    masks = _masks(data, tmp_path)
    return Case(["track", str(masks), "--out", str(masks)], [str(masks), "is the input"],
                [masks], [masks])


def case_track_out_inside_its_input(data, run, tmp_path):
    masks = _masks(data, tmp_path)
    return Case(["track", str(masks), "--out", str(masks / "01_RES")],
                [str(masks), "inside the input"], [masks], [masks])


def case_track_out_contains_its_input(data, run, tmp_path):
    masks = _masks(data, tmp_path)
    return Case(["track", str(masks), "--out", str(masks.parent)],
                [str(masks.parent), "contains the input"], [masks], [masks.parent])


def case_track_out_through_a_link_to_its_input(data, run, tmp_path):
    masks = _masks(data, tmp_path)
    link = tmp_path / "link"
    link.symlink_to(masks, target_is_directory=True)
    return Case(["track", str(masks), "--out", str(link)], ["is the input"], [masks], [masks])


def case_track_out_is_a_file(data, run, tmp_path):
    masks = _masks(data, tmp_path)
    out = tmp_path / "01_RES"
    out.write_text("notes\n")
    return Case(["track", str(masks), "--out", str(out)], [str(out), "not a folder"],
                [masks], [out])


def case_track_out_is_a_folder_of_other_files(data, run, tmp_path):
    masks = _masks(data, tmp_path)
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("\\section{Cells}\n")
    return Case(["track", str(masks), "--out", str(out)], [str(out), "not a CTC result"],
                [masks], [out])


def case_predict_out_inside_a_sequence(data, run, tmp_path):
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(data / "01"), "--device", "cpu"], [str(data / "01"), "inside the input"],
                [data, run], [])


def case_predict_out_over_a_non_result(data, run, tmp_path):
    out = tmp_path / "out"
    (out / "01_RES").mkdir(parents=True)
    (out / "01_RES" / "keep.txt").write_text("mine\n")
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], [str(out / "01_RES"), "not a CTC result"],
                [data, run], [out])


def case_evaluate_out_is_the_results(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01", "--out",
                 str(res)], [str(res), "is the input"], [data, res.parent], [])


def case_evaluate_out_contains_the_ground_truth(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01", "--out",
                 str(data)], [str(data), "contains the input"], [data, res.parent], [])


def case_submit_over_its_run(data, run, tmp_path):
    return Case(["submit", str(run), "--data", str(data), "--team", run.name, "--out",
                 str(run.parent), "--device", "cpu"], [str(run), "contains the input"],
                [data, run], [])


def case_export_over_a_sequence(data, run, tmp_path):
    out = data / "01.zip"  # the unzipped package would go to data/01, the frames' folder
    return Case(["export", str(run), "--data", str(data), "--out", str(out)],
                [str(data / "01"), "is the input"], [data, run], [])


def case_train_run_dir_inside_a_sequence(data, run, tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_OVERRIDES))
    return Case(["train", str(data), "--config", str(cfg), "--run-dir",
                 str(data / "01_GT" / "run"), "--device", "cpu"],
                [str(data / "01_GT"), "inside the input"], [data, cfg], [])


# --------------------------------------------------------------------------- poisoned models


def case_checkpoint_with_nan_weights(data, run, tmp_path):
    path = _poison(run, float("nan"))
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu", "--no-tta"], [path.name, "NaN"], [data, run],
                [out])


def case_checkpoint_with_constant_output(data, run, tmp_path):
    _poison(run, 0.0)  # every weight and bias 0: the same probability everywhere
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu", "--no-tta"], ["t000.tif", "constant"],
                [data, run], [out])


def case_empty_run_config(data, run, tmp_path):
    (run / "config.yaml").write_text("")
    out = tmp_path / "out"
    return Case(["predict", str(run), "--data", str(data), "--sequence", "01", "--out",
                 str(out), "--device", "cpu"], ["config.yaml", "empty"], [data, run], [out])


# --------------------------------------------------------------------------- evaluate


def case_evaluate_second_sequence_bad(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    second = res.parent / "02_RES"
    shutil.copytree(res, second)
    for p in (data / "02_GT" / "TRA").glob("man_track*.tif"):
        shutil.copy(p, second / p.name.replace("man_track", "mask"))
    shutil.copy(data / "02_GT" / "TRA" / "man_track.txt", second / "res_track.txt")
    raw = (second / "mask004.tif").read_bytes()
    (second / "mask004.tif").write_bytes(raw[: len(raw) // 3])
    return Case(["evaluate", str(res.parent), "--gt", str(data)], ["mask004.tif"],
                [data, res.parent / "01_RES", second], [res.parent / "evaluation"])


def case_evaluate_choose_block_not_in_the_data(data, run, tmp_path):
    for t in (8, 9):  # the tiny run chose on frames 8-9 of sequence 01
        (data / "01" / f"t{t:03d}.tif").unlink()
        for sub in ("SEG/man_seg", "TRA/man_track"):
            (data / "01_GT" / f"{sub}{t:03d}.tif").unlink(missing_ok=True)
        (data / "01_ST" / "SEG" / f"man_seg{t:03d}.tif").unlink(missing_ok=True)
    return Case(["evaluate", str(run), "--data", str(data), "--sequence", "01", "--frames",
                 "choose", "--device", "cpu"], ["--frames choose", "8-9"], [data],
                [run / "results", run / "evaluation"])


def case_res_track_with_blank_lines(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    text = (res / "res_track.txt").read_text()
    (res / "res_track.txt").write_text(text.replace("\n", "\n\n", 1))
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                ["res_track.txt:2", "blank"], [data, res], [res.parent / "evaluation"])


def case_res_track_mixing_tabs_and_spaces(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    lines = (res / "res_track.txt").read_text().splitlines()
    lines[1] = lines[1].replace(" ", "\t")
    (res / "res_track.txt").write_text("\n".join(lines) + "\n")
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                ["res_track.txt:2", "tab"], [data, res], [res.parent / "evaluation"])


def _empty_result(data: Path, tmp_path: Path) -> Path:
    res = result_folder(data, tmp_path)
    for p in res.glob("mask*.tif"):
        tifffile.imwrite(p, np.zeros_like(tifffile.imread(p)))
    (res / "res_track.txt").write_text("")
    return res


def case_evaluate_an_empty_result(data, run, tmp_path):
    res = _empty_result(data, tmp_path)
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                [str(res), "no objects"], [data, res], [res.parent / "evaluation"])


def case_track_all_empty_masks(data, run, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    for t in range(3):
        tifffile.imwrite(masks / f"mask{t:03d}.tif", np.zeros((32, 32), np.uint16))
    out = tmp_path / "01_RES"
    return Case(["track", str(masks), "--out", str(out)], [str(masks), "no objects"], [masks],
                [out])


def case_result_masks_of_another_shape(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    for p in res.glob("mask*.tif"):
        tifffile.imwrite(p, tifffile.imread(p)[:128, :200])
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                ["mask000.tif", "(128, 200)", "(256, 256)"], [data, res],
                [res.parent / "evaluation"])


def case_man_track_missing_a_track(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    path = data / "01_GT" / "TRA" / "man_track.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[1:]) + "\n")
    label = lines[0].split()[0]
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                [str(path), f"label {label}"], [data, res], [res.parent / "evaluation"])


def case_man_track_empty(data, run, tmp_path):
    res = result_folder(data, tmp_path)
    path = data / "01_GT" / "TRA" / "man_track.txt"
    path.write_text("")
    return Case(["evaluate", str(res.parent), "--gt", str(data), "--sequence", "01"],
                [str(path), "no tracks"], [data, res], [res.parent / "evaluation"])


# --------------------------------------------------------------------------- names and data


def case_train_annotation_without_its_frame(data, run, tmp_path):
    orphan = data / "01_GT" / "SEG" / "man_seg099.tif"
    shutil.copy(data / "01_GT" / "SEG" / "man_seg001.tif", orphan)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY_OVERRIDES))
    return Case(["train", str(data), "--config", str(cfg), "--run-dir",
                 str(tmp_path / "runs" / "r"), "--device", "cpu"], ["man_seg099.tif", "t099"],
                [data, cfg], [tmp_path / "runs"])


def case_submit_team_with_a_newline(data, run, tmp_path):
    out = tmp_path / "subs"
    return Case(["submit", str(run), "--data", str(data), "--team", "team\n", "--out",
                 str(out), "--device", "cpu"], ["team"], [data, run], [out])


def case_data_dir_is_a_file(data, run, tmp_path):
    root = tmp_path / "data-root"
    root.write_text("not a folder\n")
    return Case(["datasets"], [str(root), "not a folder"], [root], [],
                patch=lambda mp: mp.setenv("CTC_DATA_DIR", str(root)))


def case_disk_full_at_a_later_checkpoint(data, run, tmp_path):
    """torch's writer reports a full disk as RuntimeError, not OSError."""
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({**TINY_OVERRIDES, "train": {
        **TINY_OVERRIDES["train"], "checkpoint_every": 10, "val_every": 40}}))

    def patch(mp):
        real = torch.save
        calls = {"n": 0}

        def flaky(obj, f, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 1:
                raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected "
                                   "pos 1536 vs 1474")
            return real(obj, f, *args, **kwargs)
        mp.setattr(torch, "save", flaky)
    out = tmp_path / "runs" / "r"
    return Case(["train", str(data), "--config", str(cfg), "--run-dir", str(out), "--device",
                 "cpu"], ["checkpoint", "could not be written"], [data, cfg], [], patch=patch)


OUTPUT_CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


@pytest.mark.parametrize("name", list(OUTPUT_CASES))
def test_fault_gives_one_line_and_leaves_everything_as_it_was(name, data, run, tmp_path,
                                                              monkeypatch):
    case = OUTPUT_CASES[name](data, run, tmp_path)
    _check(case, monkeypatch, tmp_path)


# --------------------------------------------------------------------------- what still works


def test_predict_into_the_dataset_folder_is_the_ctc_layout(data, run, tmp_path):
    """DATASET/01_RES beside DATASET/01 and 01_GT is how the challenge lays results out."""
    result = CliRunner().invoke(app, ["predict", str(run), "--data", str(data), "--sequence",
                                      "01", "--out", str(data), "--device", "cpu", "--no-tta"])
    assert result.exit_code == 0, result.output
    assert (data / "01_RES" / "res_track.txt").is_file()


def test_track_replaces_an_earlier_result(data, tmp_path):
    masks = _masks(data, tmp_path)
    out = tmp_path / "01_RES"
    for _ in range(2):
        result = CliRunner().invoke(app, ["track", str(masks), "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert (out / "res_track.txt").is_file() and not _litter(tmp_path)


def test_evaluate_replaces_its_own_earlier_output_as_a_whole(data, tmp_path):
    res = result_folder(data, tmp_path)
    dest = res.parent / "evaluation"
    for _ in range(2):
        result = CliRunner().invoke(app, ["evaluate", str(res.parent), "--gt", str(data),
                                          "--sequence", "01"])
        assert result.exit_code == 0, result.output
    assert (dest / "evaluation.json").is_file() and not _litter(tmp_path)


def test_a_run_lock_file_is_removed_when_training_ends(synthetic_root, tmp_path):
    from conftest import train_through_api

    run = train_through_api(synthetic_root, tmp_path, TINY_OVERRIDES)
    assert run.last.is_file() and not run.lock.exists()


def test_a_lock_is_taken_again_after_its_holder_removed_the_file(tmp_path):
    from ctc_unet.rundir import RunDir, RunLock

    run = RunDir(tmp_path / "r")
    with RunLock(run):
        assert run.lock.is_file()
    assert not run.lock.exists()
    with RunLock(run):
        assert "pid" in run.lock.read_text()
    assert not run.lock.exists()


def test_a_run_held_by_another_process_is_refused(tmp_path):
    import subprocess
    import sys

    from ctc_unet.errors import CtcUnetError
    from ctc_unet.rundir import RunDir, RunLock

    run = RunDir(tmp_path / "r")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom ctc_unet.rundir import RunDir, RunLock\n"
         f"with RunLock(RunDir({str(run.root)!r})):\n    print('held', flush=True)\n"
         "    time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CtcUnetError, match="in use by pid"), RunLock(run):
            pass
    finally:
        holder.kill()
        holder.wait()
    with RunLock(run):  # the killed holder's lock went with it
        pass


def test_export_removes_the_staging_a_killed_export_left(run, synthetic_root, tmp_path):
    pytest.importorskip("bioimageio.spec")
    import socket

    out = tmp_path / "pkg" / "tiny.bioimageio.zip"
    out.parent.mkdir()
    host = "".join(c if c.isalnum() or c in "_-" else "_" for c in socket.gethostname())[:40]
    dead = 2**22 + 12345  # above pid_max's default: no live process has it
    stale_file = out.parent / f".{out.name}.{host}-{dead}-abcd.part"
    stale_dir = out.parent / f".tiny.bioimageio.tmp-{host}-{dead}-wxyz"
    stale_file.write_bytes(b"half a zip")
    stale_dir.mkdir()
    result = CliRunner().invoke(app, ["export", str(run), "--data", str(synthetic_root),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not stale_file.exists() and not stale_dir.exists()


def test_nan_weights_are_refused_on_load_naming_the_file(run):
    from ctc_unet.errors import CtcUnetError
    from ctc_unet.rundir import load_checkpoint

    path = _poison(run, float("inf"))
    with pytest.raises(CtcUnetError, match=f"{path.name}.*infinite"):
        load_checkpoint(path)


def test_disk_full_message_names_the_checkpoint(tmp_path, monkeypatch):
    from ctc_unet.rundir import save_checkpoint

    def full(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"x")
        raise RuntimeError("basic_ios::clear: iostream error")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError) as info:
        save_checkpoint({"model": {}}, tmp_path / "checkpoint_last.pt")
    assert info.value.filename == str(tmp_path / "checkpoint_last.pt")
    assert info.value.errno in (errno.EIO, errno.ENOSPC)
    assert list(tmp_path.iterdir()) == []
