"""``textrnn serve`` (`textrnn.serve`): a real server on a free loopback port, called over HTTP.

Predictions over HTTP equal ``textrnn.load(...).predict`` for a checkpoint (torch) and an exported folder
(ONNX Runtime), in the rows ``textrnn classify`` writes; every bad request is a 4xx with a one-line
``{"error": ...}`` and the next request is served; ``/health`` and ``/info``; SIGTERM lets a request in
flight finish and exits 0. The request rules and rows are also tested alone (`textrnn.serve.protocol`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import socket
import time
from pathlib import Path

import pytest

import textrnn
from textrnn.files import prediction_rows as classify_rows
from textrnn.serve.protocol import Limits, RequestError, parse_body, prediction_row, prediction_rows
from serve_helpers import ServerProcess

TEXTS = [
    "The striker scored twice in the final minutes of the match.",
    "The new phone ships with a faster chip and a bigger battery.",
    "Slow-cooked beans with garlic, tomatoes and fresh basil.",
    "",  # an empty text still gets a prediction
    "tabs\tand\nnewlines\r\nare text",
    "Ünïcödé, 中文 and emoji 🎉 are fine",
]
# (what is wrong, body, expected status): each must be refused with {"error": ...}
BAD_REQUESTS = [
    ("invalid JSON", b'{"text": "unterminated', 400),
    ("empty body", b"", 400),
    ("non-UTF-8 body", b'{"text": "caf\xe9"}', 400),
    ("deeply nested JSON", b"[" * 100_000, 400),
    ("not an object", json.dumps(["a list", "of texts"]).encode(), 422),
    ("text is a number", json.dumps({"text": 5}).encode(), 422),
    ("text is null", json.dumps({"text": None}).encode(), 422),
    ("texts is a string", json.dumps({"texts": "one string"}).encode(), 422),
    ("a text in texts is a number", json.dumps({"texts": ["fine", 3]}).encode(), 422),
    ("missing field", json.dumps({}).encode(), 422),
    ("unknown field", json.dumps({"txt": "typo"}).encode(), 422),
    ("both fields", json.dumps({"text": "a", "texts": ["b"]}).encode(), 422),
    ("empty list", json.dumps({"texts": []}).encode(), 422),
    ("10,000 texts", json.dumps({"texts": ["short"] * 10_000}).encode(), 413),
    ("10 MB text", json.dumps({"text": "a" * 10_000_000}).encode(), 413),
    ("NUL character", json.dumps({"text": "a\u0000b"}).encode(), 422),
    ("terminal escape", json.dumps({"texts": ["ok", "\u001b[2J\u001b]0;owned\u0007"]}).encode(), 422),
    ("lone surrogate", b'{"text": "\\ud800"}', 422),
]


@pytest.fixture(scope="session")
def serve_ckpt(tmp_path_factory, tiny_en_csv) -> Path:
    """A tiny TextRNN trained for one epoch on tiny_en.csv (max_length 48)."""
    from textrnn.cli.app import run_cli
    from tiny_args import tiny_fit_args

    root = tmp_path_factory.mktemp("serve-fit")
    fit = run_cli(tiny_fit_args(root, tiny_en_csv, "--data.init_args.max_length", "48", epochs=1))
    return Path(fit.trainer.checkpoint_callback.best_model_path)


@pytest.fixture(scope="session")
def serve_export(serve_ckpt, tmp_path_factory) -> Path:
    from textrnn.inference.onnx import export

    return export(serve_ckpt, tmp_path_factory.mktemp("serve-export") / "onnx")


@pytest.fixture(scope="module")
def servers(serve_ckpt, serve_export, tmp_path_factory):
    """A checkpoint server (batching on, small limits) and an export-folder server, started side by side."""
    logs = tmp_path_factory.mktemp("serve-logs")
    started = {
        "ckpt": ServerProcess(serve_ckpt, "--max_batch_size", "16", "--batch_timeout", "0.005", log=logs / "ckpt.log"),
        "export": ServerProcess(serve_export, log=logs / "export.log"),
    }
    try:
        yield {name: server.wait_ready() for name, server in started.items()}
    finally:
        for server in started.values():
            if server.process.poll() is None:
                server.stop()
            server.kill()  # anything left of its process group


def assert_rows_match(rows: list[dict], texts: list[str], classifier) -> None:
    """The served rows are classify's rows for ``texts`` (minus the text), probabilities to 1e-5."""
    want = classify_rows(texts, classifier.predict_proba(texts).tolist(), classifier.label_names)
    assert len(rows) == len(want)
    for row, expected in zip(rows, want):
        expected = {k: v for k, v in expected.items() if k != "text"}
        assert list(row) == list(expected)
        assert row["index"] == expected["index"] and row["label"] == expected["label"]
        for key, value in expected.items():
            if isinstance(value, float):
                assert abs(row[key] - value) <= 1e-5, key


# ---- the protocol alone (fast) -----------------------------------------------------------------------


def test_parse_body_takes_one_text_or_a_list():
    assert parse_body(b'{"text": "a"}') == ["a"]
    assert parse_body('{"texts": ["a", "", "b\\tc\\n"]}'.encode()) == ["a", "", "b\tc\n"]


@pytest.mark.parametrize("what, body, status", BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
def test_parse_body_refuses_each_bad_request_with_one_line(what, body, status):
    with pytest.raises(RequestError) as caught:
        parse_body(body, Limits())
    assert caught.value.status == status
    assert "\n" not in caught.value.message and len(caught.value.message) < 400


def test_limits_are_checked_and_named():
    with pytest.raises(RequestError, match=r"3 texts, more than .* \(2, --max_texts\)"):
        parse_body(b'{"texts": ["a", "b", "c"]}', Limits(max_texts=2))
    with pytest.raises(RequestError, match="--max_request_bytes"):
        parse_body(b'{"text": "' + b"a" * 100 + b'"}', Limits(max_request_bytes=50))
    with pytest.raises(ValueError, match="max_texts must be an integer >= 1, got 0"):
        Limits(max_texts=0)


def test_rows_follow_the_prediction_fields_so_a_multi_label_prediction_is_served_too(serve_ckpt):
    prediction = textrnn.load(serve_ckpt, device="cpu").predict(["a goal"])[0]
    row = prediction_row(prediction, 3, multi_label=False)
    assert list(row) == ["index", "label", "confidence", *(f"prob_{name}" for name in prediction.probs)]

    @dataclasses.dataclass(frozen=True)
    class MultiLabel:  # what a multi-label model might return: a list field and probabilities
        labels: list[str]
        probs: dict[str, float]
        threshold: float

    rows = prediction_rows([MultiLabel(["food", "tech"], {"food": 0.9, "tech": 0.7}, 0.5)])
    assert rows == {"predictions": [{"index": 0, "labels": ["food", "tech"], "prob_food": 0.9, "prob_tech": 0.7,
                                     "threshold": 0.5}]}


def test_a_bad_request_in_a_batch_fails_only_itself(serve_ckpt):
    """LitServe fails a whole batch on an exception, so decode_request returns the error instead of raising."""
    from textrnn.serve.server import TextClassifierAPI

    api = TextClassifierAPI(serve_ckpt, device="cpu", max_batch_size=4)
    api.setup("cpu")
    inputs = [api.decode_request({"text": TEXTS[0]}), api.decode_request({"texts": []}),
              api.decode_request({"texts": TEXTS[1:3]})]
    outputs = [api.encode_response(out) for out in api.unbatch(api.predict(api.batch(inputs)))]
    assert [len(o["predictions"]) for o in (outputs[0], outputs[2])] == [1, 2]
    assert outputs[1].status_code == 422 and json.loads(outputs[1].body) == {
        "error": '"texts" is an empty list; give at least one text'}
    assert_rows_match(outputs[2]["predictions"], TEXTS[1:3], api.classifier)


# ---- a real server -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("which", ["ckpt", "export"])
def test_predictions_over_http_equal_load_predict(servers, serve_ckpt, serve_export, which):
    server = servers[which]
    classifier = textrnn.load(serve_ckpt if which == "ckpt" else serve_export, device="cpu")
    status, body = server.post_json({"texts": TEXTS})
    assert status == 200, body
    assert_rows_match(body["predictions"], TEXTS, classifier)
    status, body = server.post_json({"text": TEXTS[0]})
    assert status == 200 and len(body["predictions"]) == 1
    assert_rows_match(body["predictions"], TEXTS[:1], classifier)


@pytest.mark.slow
def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(servers, serve_ckpt):
    server, classifier = servers["ckpt"], textrnn.load(serve_ckpt, device="cpu")
    payloads = [{"text": text} for text in TEXTS] * 4 + [{"texts": []}, {"text": 7}]  # two bad ones among them
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(server.post_json, payloads))
    for payload, (status, body) in zip(payloads[:-2], answers[:-2]):
        assert status == 200, body
        assert_rows_match(body["predictions"], [payload["text"]], classifier)
    assert [status for status, _ in answers[-2:]] == [422, 422]


@pytest.mark.slow
def test_every_bad_request_is_a_4xx_json_error_and_the_next_request_is_served(servers):
    server = servers["ckpt"]
    for what, body, status in BAD_REQUESTS:
        got, raw = server.request("POST", "/predict", body, {"Content-Type": "application/json"})
        assert got == status, (what, got, raw[:300])
        assert raw.count(b"\n") == 0 and set(json.loads(raw)) == {"error"}, (what, raw[:300])
        good, answer = server.post_json({"text": "the next request"})
        assert good == 200 and len(answer["predictions"]) == 1, what
    # Other routes and methods answer in the same shape.
    for method, path, status in (("GET", "/predict", 405), ("GET", "/nowhere", 404)):
        got, raw = server.request(method, path)
        assert got == status and set(json.loads(raw)) == {"error"}
    # Without a Content-Type (curl -d sends a form type), a JSON body is still read as JSON.
    got, raw = server.request("POST", "/predict", b'{"text": "no header"}',
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert got == 200 and len(json.loads(raw)["predictions"]) == 1


@pytest.mark.slow
def test_health_and_info(servers, serve_ckpt, serve_export):
    for which, path in (("ckpt", serve_ckpt), ("export", serve_export)):
        server = servers[which]
        assert server.request("GET", "/health") == (200, b"ok")
        status, raw = server.request("GET", "/info")
        assert status == 200
        info = json.loads(raw)["model"]
        classifier = textrnn.load(path, device="cpu")
        assert info["model_class"] == "TextRNN"
        assert info["runtime"] == ("torch" if which == "ckpt" else "onnxruntime")
        assert info["labels"] == classifier.label_names == ["food", "sports", "tech"]
        assert info["vocab_size"] == classifier.tokenizer.get_vocab_size(with_added_tokens=True)
        assert info["max_length"] == 48 and info["textrnn_version"] == textrnn.__version__
        if which == "ckpt":
            assert info["checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        else:  # sha256sum model.onnx tokenizer.json labels.json model.json | sha256sum
            lines = "".join(f"{hashlib.sha256((path / n).read_bytes()).hexdigest()}  {n}\n"
                            for n in ("model.onnx", "tokenizer.json", "labels.json", "model.json"))
            assert info["checkpoint_sha256"] == hashlib.sha256(lines.encode()).hexdigest()


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(servers):
    """The export server is stopped with a request half sent: it is answered, then the server exits 0."""
    server = servers["export"]
    body = json.dumps({"texts": TEXTS}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
        time.sleep(0.5)
        server.process.send_signal(15)  # SIGTERM
        time.sleep(2.0)  # the server is shutting down now, with this request in flight
        assert server.process.poll() is None
        connection.sendall(body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            chunk = connection.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert len(json.loads(answer.partition(b"\r\n\r\n")[2])["predictions"]) == len(TEXTS)
    assert server.stop() == 0, server.output()
    assert "SIGTERM received" in server.output()


@pytest.mark.slow
def test_a_worker_that_dies_stops_the_server_with_a_nonzero_exit(serve_ckpt, tmp_path):
    """A crash is not a requested shutdown: the inference worker killed, the server says so and exits 1."""
    import os
    import signal

    server = ServerProcess(serve_ckpt, log=tmp_path / "crash.log").wait_ready()
    try:
        children = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _parent(int(pid)) == server.process.pid]
        workers = [pid for pid in children if b"multiprocessing-fork" in _cmdline(pid)]
        assert len(workers) == 1, [_cmdline(pid) for pid in children]
        os.kill(workers[0], signal.SIGKILL)
        assert server.process.wait(timeout=60) == 1, server.output()
        assert "the server stopped on its own (a worker died?)" in server.output()
    finally:
        server.kill()


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _length(response: bytes) -> int:
    for line in response.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


# ---- the command's own errors (in this process, no server starts) ------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--host", "localhost"], "--host 'localhost' is not an address textrnn serve binds to (use 127.0.0.1"),
    (["--port", "80"], "--port 80 is not a port textrnn serve can use; valid ports: 1024 to 65535"),
    (["--max_texts", "0"], "max_texts must be an integer >= 1, got 0"),
    (["--device", "tpu"], "--device 'tpu' is not a device textrnn serve runs on; valid devices: cpu, cuda, cuda:N"),
])
def test_bad_options_are_one_line_errors(serve_ckpt, capsys, args, message):
    from textrnn.cli.serve import main

    assert main(["--ckpt_path", str(serve_ckpt), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("textrnn serve: error: ") and message in err and "\n" not in err


def test_a_missing_checkpoint_and_a_busy_port_are_one_line_errors(tmp_path, serve_ckpt, capsys):
    from textrnn.cli.serve import main

    assert main(["--ckpt_path", str(tmp_path / "missing.ckpt"), "--port", "8765"]) == 2
    assert "missing.ckpt" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["--ckpt_path", str(serve_ckpt), "--port", str(busy.getsockname()[1])]) == 2
    assert "choose another --port" in capsys.readouterr().err
