"""A first hour without surprises: help texts that show what they say, errors that say what
to do, warnings where a result would otherwise mislead, and commands that know their run's
data and reuse what it already predicted."""

from __future__ import annotations

import json
import logging
import re
import shutil

import pytest
import torch
from conftest import TINY_OVERRIDES
from typer.testing import CliRunner

import ctc_unet
from ctc_unet.cli.app import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def _error(result) -> str:
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", [c.name or c.callback.__name__
                                     for c in app.registered_commands])
def test_help_shows_every_bracketed_text_it_was_given(command):
    """Help texts are plain text: "pip install 'ctc-unet[export]'" must not lose [export]."""
    import inspect

    info = next(c for c in app.registered_commands if (c.name or c.callback.__name__)
                == command)
    texts = [info.callback.__doc__ or ""]
    for p in inspect.signature(info.callback).parameters.values():
        for meta in getattr(p.annotation, "__metadata__", ()):
            texts.append(getattr(meta, "help", None) or "")
    bracketed = {m for t in texts for m in re.findall(r"\[[^\]\s]+\]", t)}
    out = " ".join(_run(command, "--help").output.split())
    for text in bracketed:
        assert text in out, (command, text)


def test_the_top_level_help_keeps_the_export_extra():
    assert "ctc-unet[export]" in " ".join(_run("export", "--help").output.split())


# --------------------------------------------------------------------------- errors with a fix


def test_a_mistyped_dataset_name_gets_suggestions():
    message = _error(_run("inspect", "DIC-HeLa2"))
    assert "no such folder" in message and "did you mean" in message and "DIC-HeLa" in message


def test_an_empty_data_root_says_how_to_fill_it(tmp_path):
    message = _error(_run("inspect", "DIC-HeLa", "--data-dir", str(tmp_path)))
    assert "ctc-unet download" in message and "--data-dir" in message


def test_the_data_root_given_as_a_dataset_points_at_one(synthetic_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(synthetic_root, root / synthetic_root.name)
    message = _error(_run("inspect", str(root)))
    assert "holds dataset folders" in message and synthetic_root.name in message
    message = _error(_run("inspect", str(root / synthetic_root.name / "01")))
    assert "is a sequence folder" in message and str(root / synthetic_root.name) in message


def test_an_offline_download_is_one_short_line_and_leaves_nothing(tmp_path):
    data = tmp_path / "data"
    message = _error(_run("download", "DIC-HeLa", "--data-dir", str(data), "--mirror",
                          "http://127.0.0.1:9"))
    assert "cannot be reached" in message and len(message) < 300
    assert not data.exists()  # no empty data root or .archives/ left behind


# --------------------------------------------------------------------------- inspect


def test_inspect_counts_divisions_not_gap_links(data):
    """One daughter of a division unlinked from her mother leaves a parent with one child: a
    bridged gap, which is not a division."""
    def divisions() -> int:
        out = _run("inspect", str(data)).output
        return int(re.search(r"\((\d+)\)", out.split("01 ", 1)[1]).group(1))

    track_file = data / "01_GT" / "TRA" / "man_track.txt"
    records = [line.split() for line in track_file.read_text().splitlines()]
    before = divisions()
    assert before >= 1, "the synthetic data has a division"
    daughter = next(r for r in records if r[3] != "0")
    daughter[3] = "0"
    track_file.write_text("".join(" ".join(r) + "\n" for r in records))
    assert divisions() == before - 1


# --------------------------------------------------------------------------- warnings


def test_predicting_another_dataset_warns(run, data, tmp_path, caplog):
    config = yaml_config(run)
    config["dataset"] = "DIC-C2DH-HeLa"
    (run / "config.yaml").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="ctc_unet"):
        ctc_unet.predict(run, data, sequences=["01"], out=tmp_path / "out", device="cpu",
                         tta=False)
    assert any("trained on DIC-C2DH-HeLa and now predicts" in r.message
               for r in caplog.records)


def test_a_run_that_has_not_learned_warns(run, caplog):
    path = run / "checkpoint_best.pt"
    state = torch.load(path, weights_only=True)
    state["best_score"] = 0.0
    torch.save(state, path)
    with caplog.at_level(logging.WARNING, logger="ctc_unet"):
        ctc_unet.load_model(run, device="cpu")
    assert any("has not learned" in r.message for r in caplog.records)


def yaml_config(run) -> dict:
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())


# --------------------------------------------------------------------------- a run's data


def test_evaluate_and_export_find_the_data_a_run_was_trained_on(synthetic_root, tmp_path,
                                                                 monkeypatch):
    from conftest import train_through_api

    from ctc_unet.inference.predictor import Predictor

    data = shutil.copytree(synthetic_root, tmp_path / "elsewhere" / synthetic_root.name)
    run = train_through_api(data, tmp_path, TINY_OVERRIDES)
    record = json.loads(run.dataset_record.read_text())
    assert record["folder"] == str(data.resolve())
    rows = ctc_unet.evaluate(run, sequences=["02"], device="cpu")  # no data given
    assert rows[0]["sequence"] == "02"

    calls = []
    real = Predictor.from_run.__func__
    monkeypatch.setattr(Predictor, "from_run", classmethod(
        lambda cls, *a, **k: calls.append(1) or real(cls, *a, **k)))
    ctc_unet.evaluate(run, sequences=["02"], device="cpu")
    assert calls == []  # the results the run predicted as it is now are reused
    ctc_unet.evaluate(run, sequences=["02"], device="cpu", repredict=True)
    assert calls == [1]
    (data / "02" / "t000.tif").write_bytes((data / "02" / "t001.tif").read_bytes())
    ctc_unet.evaluate(run, sequences=["02"], device="cpu")
    assert calls == [1, 1]  # its frames changed: predicted again

    pytest.importorskip("bioimageio.spec")
    package = ctc_unet.export(run, out=tmp_path / "pkg" / "m.bioimageio.zip")  # no data given
    assert package.is_file()


def test_predict_and_evaluate_take_an_exported_package(tiny_run, synthetic_root, tmp_path):
    pytest.importorskip("bioimageio.spec")
    package = ctc_unet.export(tiny_run, data=synthetic_root,
                              out=tmp_path / "m.bioimageio.zip")
    result = _run("predict", str(package), "--data", str(synthetic_root), "--sequence", "02",
                  "--device", "cpu", "--no-tta")
    assert result.exit_code == 0, result.output
    made = tmp_path / "m.bioimageio.run"
    assert (made / "results" / synthetic_root.name / "02_RES" / "res_track.txt").is_file()
    assert json.loads((made / "package.json").read_text())["package"] == str(package.resolve())
    result = _run("evaluate", str(package), "--data", str(synthetic_root), "--sequence", "02",
                  "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "--frames report" not in result.output
    message = _error(_run("evaluate", str(package), "--data", str(synthetic_root), "--frames",
                          "report", "--device", "cpu"))
    assert "--frames all or FIRST-LAST" in message
