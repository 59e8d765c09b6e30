"""How fast is ``textrnn serve`` under load, and how close to the model's own speed? Starts two servers on free
loopback ports (subprocesses, ``python -m textrnn.cli serve``): one with ``--max_batch_size`` (batching on)
and one with ``--max_batch_size 1``; waits for ``GET /health``; then sends a bounded number of requests from
a client in another process (aiohttp, keep-alive connections):

* ``single_c1``, ``single_c8``, ``single_c32``: one text per request, ``--requests`` requests at concurrency
  1, 8 and 32;
* ``batch32_c4``: the same texts as requests of 32 texts, 4 at a time;
* ``single_c32_nobatch``: ``single_c32`` against the ``--max_batch_size 1`` server.

Each scenario prints texts/s, requests/s, p50/p95/p99 latency (ms), ``errors`` (an answer other than 200,
or the wrong number of rows), ``dropped`` (no answer: a connection error or a client timeout) and
``mismatches`` (a label that differs from the in-process prediction of the same text). The ceiling is
the same texts through ``textrnn.load(path).predict(texts, batch_size=B)`` in this process, on the same
number of threads as a server worker (``--threads``, default 1), at the fastest B of 8, 16, 32 and 64 (the
best batch size depends on the model: on one CPU thread the Text-CNN is fastest at 8-16 texts a pass).
The machine may be shared, so the work runs in ``--rounds`` rounds, each being the ceiling then every
scenario once (the servers idle without spinning while the others run), and each reports its fastest
round. Lines, the last ones the summary:

    scenario=<name> texts=<n> requests=<r> texts_s=<t> requests_s=<q> p50_ms=.. p95_ms=.. p99_ms=.. errors=0 dropped=0 mismatches=0
    ceiling texts_s=<t> batch_size=<B> (...)
    server_exit_codes=[0, 0] total_errors=0 total_dropped=0 total_mismatches=0
    serve_efficiency=<single_c32 texts/s / ceiling texts/s>
    p99_ms_c8=<single_c8's p99>
    batching_speedup=<single_c32 texts/s / single_c32_nobatch texts/s>

The texts are BBC News articles from the built-in data set (``--headlines``: their first lines, the
headlines; ``--texts FILE``: a .txt/.csv/.jsonl instead),
the first ``--requests`` after a seeded shuffle. Both servers are stopped with SIGTERM, and the script
fails unless they exit 0.

Usage: python benchmarks/serve_load.py --ckpt_path CKPT_OR_EXPORT_DIR [--requests 2000] [--rounds 2]
       [--max_batch_size 64] [--batch_timeout 0.01] [--workers 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
CLIENT_TIMEOUT = 120.0  # seconds one request may take before the client counts it dropped


# ---- the client (its own process) ---------------------------------------------------------------------


async def _load(url: str, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    import aiohttp

    results: list[Optional[tuple[float, int, bytes]]] = [None] * len(bodies)
    todo = iter(range(len(bodies)))
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=True) as session:

        async def worker() -> None:
            for i in todo:  # one shared iterator: each request is sent once
                start = time.perf_counter()
                try:
                    async with session.post(url, data=bodies[i], headers=headers) as response:
                        data = await response.read()
                        results[i] = (time.perf_counter() - start, response.status, data)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    results[i] = None

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies, statuses, labels = [], [], []
    for result in results:
        if result is None:
            statuses.append(None)
            labels.append(None)
            continue
        latency, status, data = result
        latencies.append(latency)
        statuses.append(status)
        try:
            labels.append([row["label"] for row in json.loads(data)["predictions"]] if status == 200 else None)
        except (ValueError, KeyError, TypeError):
            labels.append(None)
    return {"wall": wall, "latencies": latencies, "statuses": statuses, "labels": labels}


def client_main(args: argparse.Namespace) -> None:
    """``--client``: read the request bodies, send them, write the results as JSON to ``--out``."""
    bodies = [body.encode() for body in json.loads(Path(args.bodies).read_text(encoding="utf-8"))]
    result = asyncio.run(_load(args.url, bodies, args.concurrency))
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")


# ---- the driver --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_benchmark_texts(path: Optional[str], count: int, headlines: bool = False) -> list[str]:
    """``count`` texts: the file's, or BBC News articles (``headlines``: each article's first line only)."""
    if path:
        from textrnn.files import read_texts

        texts = read_texts(path)
    else:
        from textrnn.data import read_bbc_news

        texts = list(read_bbc_news()["text"])
        if headlines:
            texts = [text.split("\n", 1)[0] for text in texts]
    random.Random(0).shuffle(texts)
    if len(texts) < count:
        texts = (texts * (count // len(texts) + 1))[:count]
    return texts[:count]


def load_ceiling_model(ckpt_path: str, threads: int) -> Any:
    """``textrnn.load(ckpt_path)`` on the CPU with ``threads`` intra-op threads, as each server worker runs."""
    import torch

    import textrnn
    from textrnn.inference.onnx import onnx_session

    torch.set_num_threads(threads)
    classifier = textrnn.load(ckpt_path, device="cpu")
    if getattr(classifier, "session", None) is not None:
        classifier.session = onnx_session(Path(ckpt_path) / "model.onnx", threads=threads)
    classifier.predict(["warm up"] * 8)
    return classifier


CEILING_BATCH_SIZES = (8, 16, 32, 64)


def ceiling(classifier: Any, texts: list[str]) -> tuple[dict[int, float], list[str]]:
    """In-process texts/s of ``classifier.predict(texts, batch_size=B)`` for each B of `CEILING_BATCH_SIZES`,
    and the labels (the same at every B)."""
    speeds = {}
    for batch_size in CEILING_BATCH_SIZES:
        start = time.perf_counter()
        predictions = classifier.predict(texts, batch_size=batch_size)
        speeds[batch_size] = len(texts) / (time.perf_counter() - start)
    return speeds, [p.label for p in predictions]


class Server:
    """``textrnn serve`` in a subprocess on a free loopback port; stopped with SIGTERM."""

    def __init__(self, ckpt_path: str, extra: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        command = [sys.executable, "-m", "textrnn.cli", "serve", "--ckpt_path", ckpt_path,
                   "--port", str(self.port), *extra]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode} before it was ready; see {log}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise SystemExit(f"the server was not ready after 300 s; see {log}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.log.close()
        return code


def run_client(url: str, bodies: list[str], concurrency: int, tmp: Path) -> dict[str, Any]:
    body_file, out = tmp / "bodies.json", tmp / "result.json"
    body_file.write_text(json.dumps(bodies), encoding="utf-8")
    subprocess.run([sys.executable, __file__, "--client", "--url", url + "/predict", "--bodies", str(body_file),
                    "--concurrency", str(concurrency), "--out", str(out)], check=True, timeout=3600)
    return json.loads(out.read_text(encoding="utf-8"))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]  # nearest rank


def bodies_of(texts: list[str], per_request: int) -> list[str]:
    chunks = [texts[i : i + per_request] for i in range(0, len(texts), per_request)]
    return [json.dumps({"text": c[0]} if per_request == 1 else {"texts": c}) for c in chunks]


def summarize(name: str, result: dict[str, Any], texts: list[str], per_request: int, expected: list[str]) -> dict[str, Any]:
    """One scenario's line (printed) from the client's result."""
    errors = dropped = mismatches = 0
    chunks = range(0, len(texts), per_request)
    for start, status, labels in zip(chunks, result["statuses"], result["labels"]):
        want = expected[start : start + per_request]
        if status is None:
            dropped += 1
        elif status != 200 or labels is None or len(labels) != len(want):
            errors += 1
        else:
            mismatches += sum(a != b for a, b in zip(labels, want))
    latencies_ms = [1000 * x for x in result["latencies"]]
    line = {
        "scenario": name, "texts": len(texts), "requests": len(chunks), "texts_s": len(texts) / result["wall"],
        "requests_s": len(chunks) / result["wall"], "p50_ms": percentile(latencies_ms, 50),
        "p95_ms": percentile(latencies_ms, 95), "p99_ms": percentile(latencies_ms, 99),
        "errors": errors, "dropped": dropped, "mismatches": mismatches,
    }
    print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in line.items()), flush=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt_path", help="a .ckpt file or a folder written by textrnn export")
    parser.add_argument("--requests", type=int, default=2000, help="single-text requests per scenario")
    parser.add_argument("--rounds", type=int, default=2, help="times each scenario (and the ceiling) runs; the fastest counts")
    parser.add_argument("--texts", default=None, help="a .txt/.csv/.jsonl file of texts (default: BBC News articles)")
    parser.add_argument("--headlines", action="store_true",
                        help="BBC headlines (5 words on median) instead of whole articles (332): requests whose "
                             "cost is the server's more than the model's, where batching them pays")
    parser.add_argument("--max_batch_size", type=int, default=64)
    parser.add_argument("--batch_timeout", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per server worker and for the ceiling")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--bodies", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    if not args.ckpt_path:
        parser.error("--ckpt_path is required")

    texts = read_benchmark_texts(args.texts, args.requests, args.headlines)
    classifier = load_ceiling_model(args.ckpt_path, args.threads)
    print(f"model={args.ckpt_path} texts={len(texts)} rounds={args.rounds} max_batch_size={args.max_batch_size} "
          f"batch_timeout={args.batch_timeout} workers={args.workers} threads={args.threads} cpus={os.cpu_count()}",
          flush=True)
    common = ["--workers", str(args.workers), "--threads", str(args.threads)]
    # (server, texts per request, concurrency) of each scenario; both servers run side by side
    plan = {"single_c1": ("batched", 1, 1), "single_c8": ("batched", 1, 8), "single_c32": ("batched", 1, 32),
            "batch32_c4": ("batched", 32, 4), "single_c32_nobatch": ("nobatch", 1, 32)}
    ceilings: dict[int, float] = {}  # batch size: its fastest round
    best: dict[str, dict[str, Any]] = {}
    codes: list[int] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        servers: dict[str, Server] = {}
        try:
            servers["batched"] = Server(args.ckpt_path, ["--max_batch_size", str(args.max_batch_size), "--batch_timeout",
                                                         str(args.batch_timeout), *common], tmp / "server.log")
            servers["nobatch"] = Server(args.ckpt_path, ["--max_batch_size", "1", *common], tmp / "nobatch.log")
            expected = ceiling(classifier, texts)[1]
            for server in servers.values():  # warm-up: connections, allocator, caches
                run_client(server.url, bodies_of(texts[:64], 1), 8, tmp)
            for _ in range(args.rounds):  # rounds interleave the scenarios and the ceiling: same load for all
                for batch_size, speed in ceiling(classifier, texts)[0].items():
                    ceilings[batch_size] = max(speed, ceilings.get(batch_size, 0.0))
                for name, (which, per_request, concurrency) in plan.items():
                    result = run_client(servers[which].url, bodies_of(texts, per_request), concurrency, tmp)
                    if name not in best or result["wall"] < best[name]["wall"]:
                        best[name] = result
        finally:
            codes = [server.stop() for server in servers.values()]
    results = {name: summarize(name, best[name], texts, plan[name][1], expected) for name in plan}
    top_batch = max(ceilings, key=ceilings.get)
    top = ceilings[top_batch]
    print(f"ceiling texts_s={top:.1f} batch_size={top_batch} (in-process predict, fastest of "
          f"{args.rounds} round(s) at each batch size: {', '.join(f'{b}: {v:.1f}' for b, v in ceilings.items())})")
    print(f"server_exit_codes={codes} total_errors={sum(r['errors'] for r in results.values())} "
          f"total_dropped={sum(r['dropped'] for r in results.values())} "
          f"total_mismatches={sum(r['mismatches'] for r in results.values())}")
    print(f"serve_efficiency={results['single_c32']['texts_s'] / top:.3f}")
    print(f"p99_ms_c8={results['single_c8']['p99_ms']:.1f}")
    print(f"batching_speedup={results['single_c32']['texts_s'] / results['single_c32_nobatch']['texts_s']:.2f}")
    if any(codes):
        raise SystemExit(f"a server exited with {codes} after SIGTERM (expected 0)")


if __name__ == "__main__":
    main()
