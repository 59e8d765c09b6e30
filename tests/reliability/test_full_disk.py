"""A full disk (ENOSPC) during any write: checkpoints, exports, prediction files, reports and pictures, the
data cache. Each ends in one error line naming the path and the cause, leaves no partial file that looks
valid, and keeps what was there (the last good checkpoint). The disk is filled two ways: by injecting
ENOSPC into the write, everywhere, and, where this machine lets the tests mount one (root), with a real
tmpfs of a few kilobytes."""

import contextlib
import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import textrnn  # noqa: E402
from textrnn.cli.app import main as textrnn_main  # noqa: E402
from textrnn.cli.classify import main as classify_main  # noqa: E402
from textrnn.files import WriteError, save_figure, write_json, write_rows  # noqa: E402
from textrnn.inference.checkpoints import read_checkpoint  # noqa: E402
from reliability_helpers import one_cli_error  # noqa: E402
from tiny_args import tiny_fit_args  # noqa: E402

NO_SPACE = "No space left on device (ENOSPC)"


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@contextlib.contextmanager
def small_tmpfs(path: Path, size: int):
    """A tmpfs of ``size`` bytes mounted at ``path`` (needs root and a kernel that allows it; else skip)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# ---- the write helpers every output goes through -------------------------------------------------------


@pytest.mark.parametrize("writer", ["rows", "json", "figure"])
def test_every_writer_keeps_the_old_file_and_names_the_path(writer, tmp_path, monkeypatch):
    out = tmp_path / {"rows": "out.csv", "json": "report.json", "figure": "curve.png"}[writer]
    out.write_bytes(b"old")
    fig = plt.figure()
    monkeypatch.setattr(os, "fsync", no_space)  # the data are written; making them durable fails
    with pytest.raises(WriteError) as error:
        {"rows": lambda: write_rows([{"a": 1}], out, ["a"], overwrite=True),
         "json": lambda: write_json({"a": 1}, out),
         "figure": lambda: save_figure(fig, out)}[writer]()
    plt.close(fig)
    assert str(error.value) == (f"cannot write {str(out)!r}: {NO_SPACE}; the file there before, if any, is unchanged")
    assert out.read_bytes() == b"old" and listing(tmp_path) == [out.name]


# ---- checkpoints -------------------------------------------------------------------------------------


def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_the_last_good_checkpoint(tmp_path, tiny_en_csv,
                                                                                          capsys, monkeypatch):
    """The third checkpoint write (epoch 1; epoch 0 wrote the best and last.ckpt) runs out of space halfway."""
    import textrnn.inference.checkpoints as checkpoints

    real_save, calls = torch.save, []

    def save(obj, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 3:
            file.write(b"PK\x03\x04 part of a zip")  # torch had begun writing ...
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # ... when the disk filled up
        return real_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "save", save)
    ckpts = tmp_path / "ckpts"
    line = one_cli_error(capsys, tiny_fit_args(tmp_path, tiny_en_csv, "--checkpoint.dirpath", str(ckpts),
                                               "--checkpoint.monitor", "null", epochs=3))
    assert line.startswith("textrnn: error: cannot write the checkpoint ") and str(ckpts) in line and NO_SPACE in line
    assert listing(ckpts) == ["best-epoch0-step6.ckpt", "last.ckpt"]  # no temporary file, nothing half-written
    last = read_checkpoint(ckpts / "last.ckpt")
    assert last["epoch"] == 0 and textrnn.load(ckpts / "last.ckpt", device="cpu").predict("goal")[0].label


def test_a_real_full_tmpfs_while_checkpointing(tmp_path, tiny_run, tiny_en_csv, capsys):
    size = tiny_run.ckpt.stat().st_size  # the same model and data: checkpoints of this size
    room = (size * 5 // 2) // 4096 * 4096 + 4096  # two checkpoints fit, a third does not
    with small_tmpfs(tmp_path / "disk", room) as disk:
        line = one_cli_error(capsys, tiny_fit_args(tmp_path, tiny_en_csv, "--checkpoint.dirpath", str(disk),
                                                   "--checkpoint.monitor", "null", epochs=3))
        assert line.startswith("textrnn: error: cannot write the checkpoint ") and NO_SPACE in line, line
        assert listing(disk) == ["best-epoch0-step6.ckpt", "last.ckpt"]
        assert read_checkpoint(disk / "last.ckpt")["epoch"] == 0


# ---- exports -------------------------------------------------------------------------------------------


def test_a_full_disk_while_exporting_leaves_the_old_export(tiny_run, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    import textrnn.inference.onnx as onnx

    folder = tmp_path / "exported"
    onnx.export(tiny_run.ckpt, folder)
    before = {name: (folder / name).read_bytes() for name in onnx.FILES}
    real_dumps = json.dumps

    def dumps(obj, *args, **kwargs):  # the card, the last file, does not fit any more
        if isinstance(obj, dict) and obj.get("format") == onnx.FORMAT:
            no_space()
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(onnx.json, "dumps", dumps)
    with pytest.raises(SystemExit) as exit_:
        textrnn_main(["export", "--ckpt_path", str(tiny_run.ckpt), "--output", str(folder)])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1, err
    assert f"cannot write the export folder {str(folder)!r}: {NO_SPACE}; nothing in it was replaced" in err
    assert {name: (folder / name).read_bytes() for name in onnx.FILES} == before
    assert listing(tmp_path) == ["exported"]  # the staging folder is gone
    monkeypatch.undo()
    assert textrnn.load(folder).predict("goal")[0].label


def test_a_real_full_tmpfs_while_exporting(tiny_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    with small_tmpfs(tmp_path / "disk", 16384) as disk:  # the model alone needs more
        with pytest.raises(SystemExit):
            textrnn_main(["export", "--ckpt_path", str(tiny_run.ckpt), "--output", str(disk / "out")])
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "cannot write the export folder" in err and NO_SPACE in err, err
        assert listing(disk) == []


# ---- prediction files ------------------------------------------------------------------------------------


def test_a_full_disk_while_classify_writes_keeps_the_old_output(tiny_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "preds.csv"
    out.write_text("old\n")
    monkeypatch.setattr(os, "fsync", no_space)
    assert classify_main(["--ckpt_path", str(tiny_run.ckpt), "--text", "goal", "--output", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"textrnn classify: error: cannot write {str(out)!r}: {NO_SPACE}; the file there before, if any, "
                   "is unchanged")
    assert out.read_text() == "old\n" and listing(tmp_path) == ["preds.csv"]


def test_a_real_full_tmpfs_while_predict_writes(tiny_run, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"text number {i} about the goal and the match\n" for i in range(400)))
    with small_tmpfs(tmp_path / "disk", 4096) as disk:
        line = one_cli_error(capsys, ["predict", "--config", str(tiny_run.config), "--ckpt_path", str(tiny_run.ckpt),
                                      "--trainer.enable_progress_bar", "false", "--input", str(texts),
                                      "--output", str(disk / "preds.csv")])
        assert line.startswith(f"textrnn: error: cannot write {str(disk / 'preds.csv')!r}: ") and NO_SPACE in line
        assert listing(disk) == []


# ---- the data cache ----------------------------------------------------------------------------------------


def test_a_real_full_tmpfs_while_caching(tmp_path, tiny_en_csv, capsys):
    with small_tmpfs(tmp_path / "disk", 8192) as disk:
        line = one_cli_error(capsys, tiny_fit_args(tmp_path, tiny_en_csv, "--data.init_args.cache_dir", str(disk)))
        assert line.startswith(f"textrnn: error: cannot write the data cache '{disk}/") and NO_SPACE in line, line
        assert listing(disk) == []
