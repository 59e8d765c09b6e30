"""Untrusted checkpoints behind the CLI's --ckpt_path: every subcommand loads with weights_only=True, and
a checkpoint carrying a pickled object, a truncated file, or weights or a vocabulary that do not fit the
model each end in one clear error line. (`textrnn.load` refuses the same files: tests/test_inference.py.)"""

from pathlib import Path

import pytest
import torch

from reliability_helpers import one_cli_error
from textrnn.data import build_tokenizer


class RunsCode:
    """Unpickling this would create ``path``: the kind of object a hostile checkpoint carries."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def bad_checkpoints(good: Path, folder: Path) -> dict[str, Path]:
    checkpoint = torch.load(good, weights_only=True)
    files = {name: folder / f"{name}.ckpt" for name in ("pickled", "truncated", "vocabulary", "list")}
    torch.save({**checkpoint, "extra": RunsCode(folder / "pwned")}, files["pickled"])
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    other = {**checkpoint["textrnn"], "tokenizer": build_tokenizer(["only a few words here"]).to_str()}
    torch.save({**checkpoint, "textrnn": other}, files["vocabulary"])
    torch.save([checkpoint["state_dict"]], files["list"])  # tensors, but not a checkpoint
    return files


EXPECTED = {
    "pickled": ["pickled.ckpt' holds pickled Python objects", "(found getattr)", "refused"],
    "truncated": ["truncated.ckpt' is not a readable PyTorch checkpoint (truncated or corrupt?)"],
    "vocabulary": ["vocabulary.ckpt': the tokenizer has 7 tokens but the model's embedding has 108 rows",
                   "the vocabulary does not belong to these weights"],
    "list": ["list.ckpt' holds a list, not a checkpoint dict"],
}


@pytest.mark.parametrize("case", EXPECTED)
def test_test_refuses_a_bad_checkpoint(case, tiny_run, tmp_path, capsys, monkeypatch):
    # Even with torch told to default to unsafe loading, the CLI asks for weights_only=True itself.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    ckpt = bad_checkpoints(tiny_run.ckpt, tmp_path)[case]
    line = one_cli_error(capsys, ["test", "--config", str(tiny_run.config), "--ckpt_path", str(ckpt)])
    for piece in EXPECTED[case]:
        assert piece in line, line
    assert not (tmp_path / "pwned").exists()  # no code ran


@pytest.mark.parametrize("subcommand", ["fit", "validate", "predict"])
def test_every_subcommand_loads_weights_only(subcommand, tiny_run, tmp_path, capsys):
    ckpt = bad_checkpoints(tiny_run.ckpt, tmp_path)["pickled"]
    line = one_cli_error(capsys, [subcommand, "--config", str(tiny_run.config), "--ckpt_path", str(ckpt),
                                  "--trainer.default_root_dir", str(tmp_path)])
    assert "holds pickled Python objects" in line and not (tmp_path / "pwned").exists()
    assert "--weights_only false is refused" in one_cli_error(
        capsys, [subcommand, "--config", str(tiny_run.config), "--ckpt_path", str(tiny_run.ckpt), "--weights_only",
                 "false", "--trainer.default_root_dir", str(tmp_path)])


def test_a_checkpoint_used_with_other_data_is_refused(tiny_run, tiny_zh_csv, capsys):
    # The Chinese fixture has another vocabulary, so the model built for it has another embedding size.
    line = one_cli_error(capsys, ["test", "--config", str(tiny_run.config), "--ckpt_path", str(tiny_run.ckpt),
                                  "--data.init_args.data_files", tiny_zh_csv])
    assert "the weights in the checkpoint do not fit this TextRNN (checkpoint vs model: embedding.weight (" in line


def test_a_model_class_from_outside_textrnn_is_refused(tiny_run, tmp_path, capsys):
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    checkpoint["hyper_parameters"]["_class_path"] = "some_package.Model"  # LightningCLI would import it
    torch.save(checkpoint, tmp_path / "foreign.ckpt")
    line = one_cli_error(capsys, ["test", "--config", str(tiny_run.config), "--ckpt_path", str(tmp_path / "foreign.ckpt")])
    assert "refusing model class 'some_package.Model' named by 'hyper_parameters._class_path' in" in line


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test", "predict"])
def test_the_cli_asks_lightning_for_weights_only(subcommand, tiny_run, tmp_path, monkeypatch):
    from textrnn.inference.checkpoints import AtomicCheckpointIO
    from textrnn.cli.app import run_cli

    asked = []
    load = AtomicCheckpointIO.load_checkpoint

    def spy(self, path, map_location="cpu", weights_only=None):
        asked.append(weights_only)
        return load(self, path, map_location, weights_only)

    monkeypatch.setattr(AtomicCheckpointIO, "load_checkpoint", spy)
    run_cli([subcommand, "--config", str(tiny_run.config), "--ckpt_path", str(tiny_run.ckpt),
             "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "1"])
    assert asked and all(flag is True for flag in asked)  # fit also tests its best checkpoint at the end
