"""Which of a run's models predict, export, submit and load_model use (``--model``): the
refit on every annotated frame where one has finished (``auto``), else the run's own; the
model the run chose with and reported on on request (``protocol``)."""

from __future__ import annotations

import json
import logging

import pytest
from typer.testing import CliRunner

from ctc_unet import api
from ctc_unet.cli.app import app
from ctc_unet.errors import CtcUnetError
from ctc_unet.rundir import RunDir, pick_model

runner = CliRunner()


def _run(root, *, refit: str | None = None):
    """A run directory's marker files; ``refit``: the status of its RUN/refit (or none)."""
    root.mkdir(parents=True)
    (root / "config.yaml").write_text("model: {}\n")
    if refit is not None:
        (root / "refit").mkdir()
        (root / "refit" / "config.yaml").write_text("model: {}\n")
        (root / "refit" / "refit.json").write_text(json.dumps({"parent": str(root)}))
        (root / "refit" / "status.json").write_text(json.dumps({"status": refit}))
    return RunDir(root)


def test_a_finished_refit_is_the_default_and_the_protocol_model_stays_reachable(tmp_path,
                                                                                  caplog):
    run = _run(tmp_path / "run", refit="finished")
    with caplog.at_level(logging.INFO, logger="ctc_unet.rundir"):
        assert pick_model(run).root == run.root / "refit"
    assert "using its refit on every annotated frame" in caplog.text
    assert pick_model(run, "refit").root == run.root / "refit"
    assert pick_model(run, "protocol").root == run.root
    # given the refit itself: it, or its parent for the protocol's model
    refit = RunDir(run.root / "refit")
    assert pick_model(refit).root == refit.root
    assert pick_model(refit, "protocol").root == run.root


def test_without_a_finished_refit_the_run_is_its_own_model(tmp_path, caplog):
    plain = _run(tmp_path / "plain")
    assert pick_model(plain).root == plain.root
    with pytest.raises(CtcUnetError, match=r"does not exist \(`ctc-unet refit RUN` trains it\)"):
        pick_model(plain, "refit")
    broken = _run(tmp_path / "broken", refit="interrupted")
    with caplog.at_level(logging.WARNING, logger="ctc_unet.rundir"):
        assert pick_model(broken).root == broken.root
    assert "has not finished" in caplog.text
    with pytest.raises(CtcUnetError, match="has not finished"):
        pick_model(broken, "refit")
    with pytest.raises(CtcUnetError, match="expected one of auto, refit, protocol"):
        pick_model(plain, "newest")


def test_a_refit_that_is_missing_is_one_line_and_predict_writes_nothing(run, synthetic_root,
                                                                        tmp_path):
    out = tmp_path / "p"
    result = runner.invoke(app, ["predict", str(run), "--data", str(synthetic_root),
                                 "--model", "refit", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {run}: its refit {run / 'refit'} does not exist (`ctc-unet refit RUN` "
        "trains it)"]
    assert not out.exists()


def test_submit_and_export_hand_on_the_model_asked_for(tmp_path, monkeypatch):
    import ctc_unet.submission.package as package
    import ctc_unet.zoo.bioimageio as bioimageio

    run = _run(tmp_path / "run", refit="finished")
    seen = []
    monkeypatch.setattr(package, "package_submission",
                        lambda runs, **kw: seen.append([r.root for r in runs]) or (None, None))
    monkeypatch.setattr(bioimageio, "export_package",
                        lambda r, **kw: seen.append(r.root))
    api.submit([run.root], team="T")
    api.submit([run.root], team="T", model="protocol")
    api.export(run.root)
    api.export(str(run.root), model="protocol")
    assert seen == [[run.root / "refit"], [run.root], run.root / "refit", run.root]


def test_a_model_package_holds_one_model(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "rdf.yaml").write_text("type: model\n")
    for call in (lambda: api.load_model(package, model="protocol"),
                 lambda: api.predict(package, tmp_path, model="refit"),
                 lambda: api.export(package, model="newest")):
        with pytest.raises(CtcUnetError, match=r"a model package holds one model|expected one"):
            call()
