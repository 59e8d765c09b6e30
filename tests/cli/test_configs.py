"""``--config NAME`` names a config shipped inside the package; paths and inline YAML pass through."""

from pathlib import Path

import pytest

from textrnn.cli.app import main
from textrnn.cli.configs import CONFIG_DIR, config_path, resolve_config_names, shipped_configs

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_configs_are_the_packaged_files():
    assert CONFIG_DIR.resolve() == (REPO / "configs").resolve()  # one copy: textrnn/configs links to configs/
    assert {"textcnn", "textrnn_bilstm", "textrnn_gru", "textrnn_rnn", "sine_lstm"} <= set(shipped_configs())


def test_a_bare_name_becomes_the_packaged_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here
    packaged = str(CONFIG_DIR / "textcnn.yaml")
    assert resolve_config_names(["fit", "--config", "textcnn", "--trainer.fast_dev_run", "true"]) == [
        "fit", "--config", packaged, "--trainer.fast_dev_run", "true"]
    assert resolve_config_names(["fit", "--config=textcnn"]) == ["fit", f"--config={packaged}"]
    assert resolve_config_names(["fit", "-c", "sine_lstm"]) == ["fit", "-c", str(CONFIG_DIR / "sine_lstm.yaml")]
    assert config_path("textrnn_bilstm").read_text() == (REPO / "configs" / "textrnn_bilstm.yaml").read_text()


def test_paths_files_and_inline_yaml_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "textcnn").write_text("seed_everything: 1\n")  # an existing file wins over the shipped name
    for args in (["fit", "--config", "textcnn"], ["fit", "--config", "configs/textcnn.yaml"],
                 ["fit", "--config", "mine.yaml"], ["fit", "--config", "{seed_everything: 3}"],
                 ["fit", "--trainer.max_epochs", "1"], ["fit", "--config"]):
        assert resolve_config_names(args) == args


def test_an_unknown_name_is_one_error_listing_the_shipped_configs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"did you mean 'textcnn'\? shipped configs: lm_bilstm, sine_gru, .*textrnn_rnn"):
        resolve_config_names(["fit", "--config", "textcn"])
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "no_such_experiment"])
    assert exit_info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("textrnn: error: ")]
    assert err[0] == ("textrnn: error: --config 'no_such_experiment' is neither a file nor a shipped config; shipped configs: "
                      + ", ".join(shipped_configs()) + " (or give the path of a YAML file)")
