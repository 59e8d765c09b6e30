"""DDP on CPU: two processes fit, then test, on a split of odd size; every test example is counted once,
so the gathered metrics equal one process's on the same checkpoint."""

import csv
import json

import pytest

from reliability_helpers import finish, logged_test_metrics, textrnn_process
from tiny_args import tiny_fit_args
from textrnn.cli.app import run_cli
from textrnn.data import LengthSortedSampler

ODD_TEST_SIZE = 13  # 7 + 6 over two processes; in eval batches of 4, rank 0 runs 2 batches and rank 1 runs 2


def test_eval_shards_of_an_odd_split_cover_it_once():
    lengths = [(i * 7) % 5 + 1 for i in range(ODD_TEST_SIZE)]
    for replicas in (2, 3):
        shards = [list(LengthSortedSampler(lengths, replicas, rank)) for rank in range(replicas)]
        assert sorted(i for shard in shards for i in shard) == list(range(ODD_TEST_SIZE))  # no padding duplicates
        assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.slow
def test_ddp_fit_and_test_count_each_test_example_once(tmp_path, data_dir):
    with (data_dir / "tiny_en_test.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    test_file = tmp_path / "test13.csv"
    with test_file.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows[: ODD_TEST_SIZE + 1])  # header + 13 rows
    files = json.dumps({"train": str(data_dir / "tiny_en_train.csv"), "test": str(test_file)})
    args = tiny_fit_args(tmp_path, files, "--trainer.max_epochs", "1", "--data.init_args.eval_batch_size", "4",
                         "--trainer.logger", "CSVLogger", "--trainer.logger.init_args.save_dir", str(tmp_path),
                         "--checkpoint.dirpath", str(tmp_path / "ckpt"))
    ddp = ["--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    output = finish(textrnn_process([*args, *ddp], tmp_path / "log.txt"), tmp_path / "log.txt", timeout=180)
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in output
    gathered = logged_test_metrics(tmp_path)

    best = next((tmp_path / "ckpt").glob("best-*.ckpt"))
    config = next(tmp_path.rglob("config.yaml"))
    one = run_cli(["test", "--config", str(config), "--ckpt_path", str(best), "--trainer.strategy", "auto",
                   "--trainer.devices", "1", "--trainer.logger", "false"])
    alone = {key: value.item() for key, value in one.trainer.callback_metrics.items() if key.startswith("test/")}
    assert len(one.datamodule.texts("test")) == ODD_TEST_SIZE
    assert 0 < alone["test/acc"] < 1  # an imperfect model, so a double-counted example would show
    assert gathered == pytest.approx(alone, abs=1e-6)
