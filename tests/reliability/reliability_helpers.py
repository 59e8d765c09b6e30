"""Helpers for the reliability tests (not a test module): the one-line error check, a `textrnn` subprocess,
and callbacks that pause a run at a given step (so a test can SIGKILL it there) or inject a NaN."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def one_cli_error(capsys, args: list[str]) -> str:
    """Run `textrnn` in-process on ``args``; assert exit code 2 and one error line, no traceback; return it."""
    from textrnn.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("textrnn: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def textrnn_process(args: list[str], log: Path) -> subprocess.Popen:
    """`python -m textrnn.cli ARGS` in a subprocess, one thread, offline, with this folder importable."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")]))
    handle = log.open("w")
    return subprocess.Popen([sys.executable, "-m", "textrnn.cli", *args], cwd=log.parent, env=env,
                            stdout=handle, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    """Wait for ``process``; assert it succeeded; return its output."""
    code = process.wait(timeout=timeout)
    output = log.read_text()
    assert code == 0, output[-3000:]
    return output


def logged_test_metrics(root: Path) -> dict[str, float]:
    """The test/ metrics a run under ``root`` logged last (CSVLogger's metrics.csv)."""
    rows = [row for path in sorted(root.rglob("metrics.csv")) for row in csv.DictReader(path.open())]
    final = [row for row in rows if row.get("test/acc")][-1]
    return {key: float(value) for key, value in final.items() if key.startswith("test/") and value}


class PauseAtStep(pl.Callback):
    """Test helper: once ``step`` optimizer steps are done, write ``marker`` and wait to be killed.

    It runs before ModelCheckpoint's hook of the same batch (Lightning runs checkpoint callbacks last),
    so the checkpoint due at ``step``, if any, is not written.
    """

    def __init__(self, step: int, marker: str) -> None:
        self.step, self.marker = step, marker

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            Path(self.marker).write_text(f"{trainer.current_epoch} {batch_idx}\n")
            time.sleep(3600)


class NaNAtStep(pl.Callback):
    """Test helper, an injected fault: at optimizer step ``step`` the model's head outputs NaN."""

    model = None  # the LightningModule of the latest run, for the test to inspect

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        NaNAtStep.model = pl_module
        if trainer.global_step == self.step:
            pl_module.head.register_forward_hook(lambda module, inputs, output: output * float("nan"))


class WaitForSignalAtStep(pl.Callback):
    """Test helper: once ``step`` optimizer steps are done, write ``marker`` and wait (up to a minute) for the
    run's stop flag, as a long step would while a signal arrives."""

    def __init__(self, step: int, marker: str) -> None:
        self.step, self.marker = step, marker

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            Path(self.marker).write_text(f"{trainer.current_epoch} {batch_idx}\n")
            deadline = time.monotonic() + 60
            while not trainer.received_sigterm and time.monotonic() < deadline:
                time.sleep(0.05)



class WaitForSignalInTest(pl.Callback):
    """Test helper: at the end of the first test batch, write ``marker`` and wait for the run's stop flag."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if batch_idx == 0:
            Path(self.marker).write_text("testing\n")
            deadline = time.monotonic() + 60
            while not trainer.received_sigterm and time.monotonic() < deadline:
                time.sleep(0.05)
