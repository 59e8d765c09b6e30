"""benchmarks/data_scale.py at 2,000 rows: both pipelines give the same split sizes, the cached run is
reused, and the script ends with the line the benchmark promises (its timings mean nothing here)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # runs the benchmark script end to end


def test_data_scale_benchmark_runs_small_and_ends_with_the_ratios(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "data_scale.py"), "--rows", "2000", "--train-batches", "3",
         "--batch-size", "16", "--workdir", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("rows=2000 ")
    runs = re.findall(r"^run=(\w+) .* cache_used=(\w+) sizes=(\{.*\}) vocab=\d+$", "\n".join(lines), re.M)
    sizes = "{'train': 1600, 'validation': 200, 'test': 200}"
    assert runs == [("textrnn", "False", sizes), ("bare", "False", sizes), ("textrnn_cached", "True", sizes)]
    assert re.fullmatch(r"textcnn_train texts_per_s=\d+ \(3 batches of 16\)", lines[-2])
    assert re.fullmatch(r"prep_time_ratio=\d+\.\d{3} rss_ratio=\d+\.\d{3} cached_s=\d+\.\d", lines[-1])
    assert list(tmp_path.iterdir()) == []  # the CSV and the caches were temporary
