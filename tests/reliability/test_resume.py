"""Interrupted training: `textrnn fit` SIGKILLed in mid-epoch and resumed with `--ckpt_path last` ends
exactly where an uninterrupted run ends (same test metrics, same weights); and a crash while a
checkpoint is written never leaves a truncated file in place of the good one."""

import os
import signal
import time
from pathlib import Path

import pytest
import torch

from reliability_helpers import finish, logged_test_metrics, textrnn_process
from tiny_args import tiny_fit_args
from textrnn.inference.checkpoints import AtomicCheckpointIO, atomic_torch_save, read_checkpoint

# tiny_en.csv: 96 training texts, batches of 16 -> 6 steps per epoch. Checkpoints every 4 steps; the
# run is killed at step 10, so the last checkpoint is step 8: epoch 1, 2 batches into its 6. Dropout
# (embedding and head, 0.5 each) makes the result depend on the random state as well as on the batches.
STEPS_PER_EPOCH, EVERY, KILL_AT = 6, 4, 10


def run_args(root: Path, data: str, *extra: str) -> list[str]:
    return tiny_fit_args(root, data, "--trainer.max_epochs", "3", "--trainer.logger", "CSVLogger",
                         "--trainer.logger.init_args.save_dir", str(root), "--checkpoint.dirpath", str(root / "ckpt"),
                         "--checkpoint.every_n_train_steps", str(EVERY),
                         "--checkpoint.save_top_k", "0",  # no "best": fit ends by testing the final weights
                         *extra)


@pytest.mark.slow
def test_sigkill_in_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, tiny_en_csv):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    marker = broken / "paused"
    pause = ["--trainer.callbacks+=reliability_helpers.PauseAtStep",
             f"--trainer.callbacks.step={KILL_AT}", f"--trainer.callbacks.marker={marker}"]
    for root in (whole, broken):
        root.mkdir()
    uninterrupted = textrnn_process(run_args(whole, tiny_en_csv), whole / "log.txt")
    interrupted = textrnn_process(run_args(broken, tiny_en_csv, *pause), broken / "log.txt")
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert interrupted.poll() is None, (broken / "log.txt").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never reached the pause step"
        time.sleep(0.1)
    os.kill(interrupted.pid, signal.SIGKILL)
    assert interrupted.wait(timeout=30) == -signal.SIGKILL
    assert marker.read_text().split() == ["1", str(KILL_AT - STEPS_PER_EPOCH - 1)]  # epoch 1, batch 3
    last = read_checkpoint(broken / "ckpt" / "last.ckpt")
    assert last["global_step"] == 8  # in mid-epoch: 2 of epoch 1's 6 batches done
    assert last["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches_done": 2}]

    resumed = textrnn_process(run_args(broken, tiny_en_csv, "--ckpt_path", "last"), broken / "log2.txt")
    finish(uninterrupted, whole / "log.txt")
    output = finish(resumed, broken / "log2.txt")
    assert "Restored all states from the checkpoint" in output
    assert "not resumable" not in output  # Lightning's warning for loaders it cannot resume mid-epoch

    expected, got = logged_test_metrics(whole), logged_test_metrics(broken)
    assert set(expected) >= {"test/acc", "test/loss", "test/f1_macro"}
    assert got == pytest.approx(expected, rel=0, abs=1e-6)
    final = [read_checkpoint(root / "ckpt" / "last.ckpt") for root in (whole, broken)]
    assert final[0]["global_step"] == final[1]["global_step"] == 16  # the last multiple of 4 of 18 steps
    for name, tensor in final[0]["state_dict"].items():
        assert torch.equal(tensor, final[1]["state_dict"][name]), name


def test_the_sampler_resumes_where_the_checkpoint_was_taken():
    from textrnn.data import BucketBatchSampler

    sampler = BucketBatchSampler([(i * 7) % 13 + 1 for i in range(40)], batch_size=4, seed=1, chunk_batches=2)
    epochs = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    sampler.set_epoch(0)
    sampler.resume(epoch=0, batches_done=3)  # a checkpoint 3 batches into epoch 0
    assert list(sampler) == epochs[0][3:]
    assert list(sampler) == epochs[0]  # the skip applies to one iteration only
    sampler.resume(epoch=0, batches_done=len(sampler))  # taken at epoch 0's last batch: go on with epoch 1
    assert sampler.epoch == 1 and list(sampler) == epochs[1]


class Boom(Exception):
    """Stands for the process dying while the checkpoint is being written."""


def half_then_crash(obj, file, *args, **kwargs):
    file.write(b"PK\x03\x04 half a checkpoint")
    raise Boom


@pytest.mark.parametrize("write", ["atomic_torch_save", "AtomicCheckpointIO"])
def test_a_crash_while_writing_keeps_the_old_checkpoint(tmp_path, monkeypatch, write):
    path = tmp_path / "last.ckpt"
    good = {"state_dict": {"w": torch.arange(4.0)}, "global_step": 8}
    atomic_torch_save(good, path)
    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(Boom):
        if write == "atomic_torch_save":
            atomic_torch_save({"global_step": 12}, path)
        else:
            AtomicCheckpointIO().save_checkpoint({"global_step": 12}, path)
    monkeypatch.undo()
    kept = read_checkpoint(path)
    assert kept["global_step"] == 8 and torch.equal(kept["state_dict"]["w"], torch.arange(4.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no temporary file left behind


def test_the_cli_writes_checkpoints_atomically(tiny_run):
    assert type(tiny_run.cli.trainer.strategy.checkpoint_io) is AtomicCheckpointIO
