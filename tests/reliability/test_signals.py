"""SIGTERM and SIGINT during `textrnn fit`, sent for real to a real subprocess: the step in progress
finishes, `last.ckpt` is saved, the run exits with 128 + the signal (143, 130) and one line saying how to
resume; resuming with `--ckpt_path last` ends where an uninterrupted run ends."""

import signal
import time
from pathlib import Path

import pytest
import torch

from reliability_helpers import finish, logged_test_metrics, textrnn_process
from tiny_args import tiny_fit_args
from textrnn.inference.checkpoints import read_checkpoint

STOP_AT = 8  # tiny_en.csv in batches of 16: 6 steps an epoch, so step 8 is in mid-epoch 1


def run_args(root: Path, data: str, *extra: str) -> list[str]:
    return tiny_fit_args(root, data, "--trainer.max_epochs", "3", "--trainer.logger", "CSVLogger",
                         "--trainer.logger.init_args.save_dir", str(root), "--checkpoint.dirpath", str(root / "ckpt"),
                         "--checkpoint.save_top_k", "0", *extra)


def stop_with(signum: int, root: Path, data: str, *extra: str) -> tuple[int, str]:
    """Start a run, send ``signum`` while step STOP_AT is in progress (or where ``extra``'s callback waits);
    its exit status and output."""
    marker = root / "at_step"
    wait = extra or ["--trainer.callbacks+=reliability_helpers.WaitForSignalAtStep", f"--trainer.callbacks.step={STOP_AT}"]
    process = textrnn_process(run_args(root, data, *wait, f"--trainer.callbacks.marker={marker}"), root / "log.txt")
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, (root / "log.txt").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never reached the step"
        time.sleep(0.1)
    process.send_signal(signum)
    return process.wait(timeout=60), (root / "log.txt").read_text()


def the_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("textrnn: ")]
    assert len(lines) == 1 and "Traceback" not in output, output[-3000:]
    return lines[0]


@pytest.mark.slow
def test_sigterm_saves_last_exits_143_and_resumes_exactly(tmp_path, tiny_en_csv):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    whole.mkdir(), stopped.mkdir()
    uninterrupted = textrnn_process(run_args(whole, tiny_en_csv), whole / "log.txt")
    code, output = stop_with(signal.SIGTERM, stopped, tiny_en_csv)
    assert code == 143, output[-3000:]
    last = stopped / "ckpt" / "last.ckpt"
    assert the_line(output) == (f"textrnn: stopped by SIGTERM after training step {STOP_AT}; saved {last}. "
                                "To resume, run the same command with --ckpt_path last")
    assert read_checkpoint(last)["global_step"] == STOP_AT
    assert "test/acc" not in output and not list(stopped.rglob("metrics.csv"))[0].read_text().count("test/")

    resumed = textrnn_process(run_args(stopped, tiny_en_csv, "--ckpt_path", "last"), stopped / "log2.txt")
    finish(uninterrupted, whole / "log.txt")
    assert "Restored all states from the checkpoint" in finish(resumed, stopped / "log2.txt")
    assert logged_test_metrics(stopped) == pytest.approx(logged_test_metrics(whole), rel=0, abs=1e-6)
    final = [read_checkpoint(root / "ckpt" / "last.ckpt") for root in (whole, stopped)]
    assert final[0]["global_step"] == final[1]["global_step"] == 18
    for name, tensor in final[0]["state_dict"].items():
        assert torch.equal(tensor, final[1]["state_dict"][name]), name


@pytest.mark.slow
def test_sigint_saves_last_and_exits_130(tmp_path, tiny_en_csv):
    code, output = stop_with(signal.SIGINT, tmp_path, tiny_en_csv)
    assert code == 130, output[-3000:]
    assert the_line(output).startswith(f"textrnn: stopped by SIGINT after training step {STOP_AT}; saved ")
    assert read_checkpoint(tmp_path / "ckpt" / "last.ckpt")["global_step"] == STOP_AT


@pytest.mark.slow
def test_sigterm_during_the_final_test_exits_143(tmp_path, tiny_en_csv):
    code, output = stop_with(signal.SIGTERM, tmp_path, tiny_en_csv, "--data.init_args.eval_batch_size", "4",
                             "--trainer.callbacks+=reliability_helpers.WaitForSignalInTest")
    assert code == 143, output[-3000:]
    assert the_line(output) == ("textrnn: stopped by SIGTERM while running test (after training, if any); "
                                "nothing new was saved")
    assert read_checkpoint(tmp_path / "ckpt" / "last.ckpt")["global_step"] == 18  # training had finished


def test_the_first_signal_raises_the_stop_flag_and_a_second_stops_at_once():
    from types import SimpleNamespace

    from textrnn.callbacks.training import StopOnSignal

    stopper = StopOnSignal()
    trainer = SimpleNamespace(_signal_connector=SimpleNamespace(received_sigterm=False))
    stopper._trainer = trainer  # as `setup` leaves it, without touching this process's handlers
    stopper._on_signal(signal.SIGTERM, None)
    assert stopper.signum == signal.SIGTERM and trainer._signal_connector.received_sigterm
    with pytest.raises(KeyboardInterrupt):
        stopper._on_signal(signal.SIGINT, None)
    assert stopper.signum == signal.SIGTERM  # the exit status follows the first signal
