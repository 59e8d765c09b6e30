"""The benchmark scripts run where CI runs (CPU, no GPU) and print what their docstrings promise.
Their timings mean nothing here; what is checked is that they work and check what they claim."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_script(name: str, *args: str) -> list[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")  # no GPU, as in CI
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


pytestmark = pytest.mark.slow  # runs the benchmark scripts end to end


def test_gpu_throughput_without_a_gpu_says_so_and_exits_0():
    lines = run_script("gpu_throughput.py")
    assert len(lines) == 1 and "no CUDA GPU" in lines[0]


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])  # 16-mixed: no CPU has an fp16 LSTM kernel
def test_gpu_throughput_smoke_runs_every_path_on_cpu(precision):
    lines = run_script("gpu_throughput.py", "--device", "cpu", "--batch", "4", "--length", "12", "--steps", "2",
                       "--warmup", "1", "--vocab", "50", "--precision", precision)
    dtypes = dict(re.findall(r"kernel_dtype_(\w+)=(\w+)", " ".join(lines)))
    assert set(dtypes) == {"lstm", "gru", "rnn"} and set(dtypes.values()) <= {"bfloat16", "float16", "float32"}
    assert re.fullmatch(r"fraction_of_ceiling=\d+\.\d{3}", lines[-1])


def test_lightning_overhead_loops_agree_and_end_with_the_ratio():
    lines = run_script("lightning_overhead.py", "--steps", "3", "--repeats", "2")
    assert re.search(r"steps=3 max_loss_diff=0\.00e\+00", lines[-2])  # the same losses, step by step
    assert re.fullmatch(r"lightning_overhead=\d+\.\d{3}", lines[-1])


def test_bilstm_variants_runs_are_seeded_and_read_out_three_accuracies():
    same = '{"tag": "%s", "epochs": 2, "max_length": 48, "hidden_size": 16, "embedding_dim": 16}'
    lines = run_script("bilstm_variants.py", "--seeds", "42", "--limit-batches", "3",
                       "--variants", same % "a", same % "b")
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["tag"] for r in rows] == ["a", "b"]
    for r in rows:
        assert len(r["val"]) == 2 and all(0.0 <= r[k] <= 1.0 for k in ("best", "last", "ema"))
    # Same variant, same seed: the same run, whatever ran before it in the process.
    strip = [{k: v for k, v in r.items() if k not in ("tag", "train_s")} for r in rows]
    assert strip[0] == strip[1]
    assert re.fullmatch(r"variant=b seeds=1 best=\d+\.\d\d% last=\d+\.\d\d% ema=\d+\.\d\d%", lines[-1])


def test_pooling_cost_times_every_pooling_against_max_and_ends_with_the_shipped_one():
    lines = run_script("pooling_cost.py", "--batch", "2", "--length", "8", "--vocab", "50", "--rounds", "1",
                       "--steps", "1")
    rows = dict(re.findall(r"pooling=(\w+) ms_per_step=\d+ vs_max=(\d+\.\d{3})", "\n".join(lines)))
    from textrnn.nn import POOLINGS

    assert set(rows) == set(POOLINGS) and rows["max"] == "1.000"
    assert lines[-1].startswith("pooling=attention ")  # configs/textrnn_bilstm.yaml's pooling comes last


@pytest.mark.slow
def test_label_efficiency_smoke_run_trains_every_model_and_writes_its_table(tmp_path):
    """At toy size (the tiny fixture, one epoch): every model at two label fractions, the language model
    pretrained once and reused, results.csv, summary.md and the plot written; a rerun reuses the runs."""
    args = ["--toy", "--out", str(tmp_path), "--fractions", "0.5", "1.0", "--seeds", "42", "--max_epochs", "1",
            "--lm_epochs", "1", "--models", "bilstm", "bilstm_pretrained", "textcnn", "tfidf"]
    lines = run_script("label_efficiency.py", *args)
    runs = [line for line in lines if re.match(r"\w+ fraction=", line)]
    assert len(runs) == 8
    labels = dict(re.findall(r"fraction=(\S+) seed=42 labels=(\d+)", "\n".join(runs)))
    assert int(labels["0.5"]) < int(labels["1"])  # half the labels, stratified: about half the texts
    assert (tmp_path / "label_efficiency.png").stat().st_size > 1000
    table = (tmp_path / "summary.md").read_text()
    assert "BiLSTM, pretrained LM" in table and "TF-IDF + LinearSVC" in table
    assert len(list((tmp_path / "lm").glob("seed42/lm_bilstm/version_*"))) == 1  # one language model for both fractions
    again = run_script("label_efficiency.py", *args)
    assert [line for line in again if re.match(r"\w+ fraction=", line)] == runs  # reused, not retrained


def test_lm_probe_scores_pretrained_and_random_features_on_validation():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import lm_probe
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    results = lm_probe.main(["--ckpt_path", str(REPO / "tests" / "fixtures" / "legacy_v0_lm.ckpt"), "--dataset", "csv",
                             "--data_files", str(REPO / "data" / "tiny_en.csv"), "--min_frequency", "1",
                             "--max_length", "64", "--fractions", "0.5", "1.0"])
    assert [(name, fraction) for name, fraction, _ in results] == [
        (f"{model} {part}", fraction) for model in ("pretrained", "random") for part in ("encoder", "embedding")
        for fraction in (0.5, 1.0)]
    assert all(0.0 <= accuracy <= 1.0 for *_, accuracy in results)
    assert max(accuracy for *_, accuracy in results) > 1 / 3  # the keyword fixture: better than chance somewhere


def test_serve_load_serves_every_scenario_without_errors(tiny_run):
    """Two real servers on loopback, a bounded client (12 requests per scenario, one round), both stopped by
    SIGTERM with exit status 0; every answer equals the in-process prediction."""
    lines = run_script("serve_load.py", "--ckpt_path", str(tiny_run.ckpt), "--requests", "12", "--rounds", "1",
                       "--headlines")
    scenarios = {line.split()[0].split("=")[1]: line for line in lines if line.startswith("scenario=")}
    assert set(scenarios) == {"single_c1", "single_c8", "single_c32", "batch32_c4", "single_c32_nobatch"}
    for line in scenarios.values():
        assert " errors=0 dropped=0 mismatches=0" in line, line
    assert "server_exit_codes=[0, 0] total_errors=0 total_dropped=0 total_mismatches=0" in lines
    summary = dict(line.split("=", 1) for line in lines if line.split("=")[0] in
                   ("serve_efficiency", "p99_ms_c8", "batching_speedup"))
    assert set(summary) == {"serve_efficiency", "p99_ms_c8", "batching_speedup"}
    assert all(float(value.split()[0]) > 0 for value in summary.values())


def test_tfidf_baseline_reads_data_options_as_yaml_and_names_a_bad_one(tmp_path):
    """`--data_option` values are YAML like the CLI's, so a dict of split files reaches TextDataModule."""
    sys.path.insert(0, str(REPO / "tests" / "multilabel"))
    try:
        from ml_helpers import multilabel_rows, write_jsonl
    finally:
        sys.path.remove(str(REPO / "tests" / "multilabel"))
    rows = multilabel_rows()
    test_rows = [row for row in rows[80:] if row["labels"]]
    train = write_jsonl(tmp_path / "train.jsonl", rows[:80])
    test = write_jsonl(tmp_path / "test.jsonl", test_rows)
    lines = run_script("tfidf_baseline.py", "--multi_label", "--dataset", "json", "--data_option",
                       f"data_files={{train: {train}, test: {test}}}", "--data_option", "label_column=labels",
                       "--data_option", "min_frequency=1")
    sizes = dict(re.findall(r"(\w+)=(\d+)", lines[-2]))
    assert int(sizes["test"]) == len(test_rows) and sizes["labels"] == "3"
    assert int(sizes["train"]) < 80  # the validation split was carved from train, not read from test
    assert re.fullmatch(r"tfidf_linearsvc_multilabel test_f1_micro=[01]\.\d{4} .*", lines[-1])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    bad = subprocess.run([sys.executable, str(REPO / "benchmarks" / "tfidf_baseline.py"), "--data_option", "label_column"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "--data_option 'label_column' is not NAME=VALUE" in bad.stderr


def test_make_reuters_splits_by_date_and_keeps_frequent_topics(tmp_path):
    """The Reuters JSON's stories become JSONL: labelled stories only, the ModApte date rule, rare topics
    dropped (a story left with none keeps an empty set)."""
    folder = tmp_path / "full"
    folder.mkdir()
    stories = ([{"title": f"GRAIN {i}", "body": "wheat", "date": "1-APR-1987 10:00:00.00", "topics": ["grain", "wheat"]}
                for i in range(3)]
               + [{"title": "RARE", "body": "tin", "date": " 7-APR-1987 23:59:00.00", "topics": ["tin"]},
                  {"body": "no topics", "date": "2-APR-1987 10:00:00.00"},
                  {"title": "LATER", "body": "corn", "date": "8-APR-1987 00:01:00.00", "topics": ["grain"]}])
    (folder / "reuters-000.json").write_text(json.dumps(stories))
    lines = run_script("make_reuters.py", str(folder), "--out", str(tmp_path / "out"), "--min_train", "3")
    assert lines[-1].startswith("labels=2 ")
    read = {split: [json.loads(line) for line in (tmp_path / "out" / f"{split}.jsonl").read_text().splitlines()]
            for split in ("train", "test")}
    assert [row["labels"] for row in read["train"]] == [["grain", "wheat"]] * 3 + [[]]
    assert read["train"][0]["text"] == "GRAIN 0\nwheat"
    assert read["test"] == [{"text": "LATER\ncorn", "labels": ["grain"]}]
