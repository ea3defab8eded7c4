from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from ctc_unet.cli.app import app
from ctc_unet.config import (
    Config,
    ConfigError,
    TargetConfig,
    dump_config,
    from_dict,
    load_config,
    read_yaml,
)


def test_defaults_follow_the_paper():
    cfg = load_config()
    assert (cfg.targets.w0, cfg.targets.sigma) == (10.0, 5.0)
    assert (cfg.augment.elastic_grid, cfg.augment.elastic_std) == (3, 10.0)
    assert cfg.augment.image_interp == "bicubic"


def test_dataset_file_overrides_defaults():
    cfg = load_config("ISBI2012")
    assert cfg.dataset == "ISBI2012"
    assert cfg.targets.w0 == 0.0 and cfg.targets.border_width == 0
    assert cfg.augment.elastic_std == 10.0  # inherited


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_config().targets.w0 = 3.0  # type: ignore[misc]


def test_extra_file_and_overrides(tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("targets:\n  sigma: 3\naugment:\n  gamma_range: [0.8, 1.2]\n")
    cfg = load_config("DIC-C2DH-HeLa", extra, {"targets": {"source": "ST"}})
    assert cfg.targets.sigma == 3.0 and isinstance(cfg.targets.sigma, float)
    assert cfg.augment.gamma_range == (0.8, 1.2)
    assert cfg.targets.source == "ST"


@pytest.mark.parametrize(("text", "msg"), [
    ("targets:\n  sigmma: 3\n", r"unknown key 'sigmma'; did you mean 'sigma'"),
    ("targetz:\n  sigma: 3\n", r"unknown key 'targetz'"),
    ("targets:\n  sigma: five\n", r"targets.sigma: expected a number"),
    ("targets:\n  source: silver\n", r"must be one of GT, ST, GT\+ST"),
    ("augment:\n  flip_prob: 1.5\n", r"probability must lie in \[0, 1\]"),
    ("augment:\n  gamma_range: [1]\n", r"expected a list of 2 values"),
    ("targets:\n  class_balance: 1\n", r"expected true or false"),
    ("targets:\n  ignore_margin: -1\n", r"must not be negative"),
    ("- just a list\n", r"mapping at the top level"),
    ("targets: [unclosed\n", r"not valid YAML"),
    ("targets:\n  sigma: 3\n  sigma: 5\n",
     r"line 3: key 'sigma' is given twice \(first on line 2\)"),
    ("targets:\n  sigma: 3\ntargets:\n  w0: 5\n", r"line 3: key 'targets' is given twice"),
])
def test_bad_config_files_are_rejected_with_file_and_key(tmp_path, text, msg):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=msg) as err:
        load_config(None, path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_roundtrip_through_yaml(tmp_path):
    cfg = load_config("DIC-C2DH-HeLa")
    path = dump_config(cfg, tmp_path / "config.yaml")
    assert from_dict(read_yaml(path)) == cfg


def test_from_dict_defaults():
    assert from_dict({}) == Config()
    assert from_dict({"targets": {"w0": 5}}).targets == TargetConfig(w0=5.0)


def test_cli_reports_a_bad_config_in_one_line(synthetic_root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  wo: 3\n")
    result = CliRunner().invoke(app, ["targets", str(synthetic_root), "--out",
                                      str(tmp_path / "out"), "--config", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "unknown key 'wo'" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("section", "key", "value"), [
    ("train", "val_every", 0), ("train", "log_every", 0), ("train", "checkpoint_every", 0),
    ("train", "iterations", 0), ("model", "dropout", 1.5), ("model", "n_classes", 1),
    ("model", "base_channels", 0), ("model", "depth", 0), ("model", "in_channels", 3),
    ("augment", "elastic_grid", 0), ("inference", "sw_batch_size", 0), ("train", "ema_decay", 1.0),
])
def test_values_that_parse_but_make_no_sense_are_refused(section, key, value):
    with pytest.raises(ConfigError, match=rf"{section}\.{key}: must lie in"):
        load_config(None, overrides={section: {key: value}})


def test_defaults_yaml_is_the_one_source_of_every_default():
    """Every field of every section takes its default from configs/defaults.yaml, which
    lists every key and no other."""
    import dataclasses

    import yaml

    from ctc_unet.config import DEFAULTS_FILE

    shipped = yaml.safe_load(DEFAULTS_FILE.read_text())
    cfg = Config()
    for section in dataclasses.fields(cfg):
        value = getattr(cfg, section.name)
        if not dataclasses.is_dataclass(value):
            continue  # dataset, profile: names, not defaults
        fields = {f.name: f for f in dataclasses.fields(value)}
        assert set(shipped[section.name]) == set(fields), section.name
        for name, f in fields.items():
            expected = shipped[section.name][name]
            expected = tuple(expected) if isinstance(expected, list) else expected
            assert f.default == expected, f"{section.name}.{name}"
    assert set(shipped) == {f.name for f in dataclasses.fields(cfg)
                            if dataclasses.is_dataclass(getattr(cfg, f.name))}
    assert load_config(None) == cfg
