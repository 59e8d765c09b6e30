"""``textrnn serve`` on LitServe: a trained checkpoint or exported folder behind ``POST /predict``.

Processes (LitServe's): the main process holds the request queue and waits for a shutdown; one HTTP
process (uvicorn + FastAPI) per inference worker parses and checks requests; each inference worker
(spawned, so it holds its own torch or ONNX Runtime) runs `TextClassifierAPI`: ``setup`` loads the model
once with `textrnn.load`, and concurrent requests are grouped into one batch (up to ``max_batch_size``
requests, waiting at most ``batch_timeout`` seconds for them), whose texts go through
``Classifier.predict`` together, so they are tokenized, sorted by length and padded as one.

Bad requests are answered by `RequestGuard` in the HTTP process, before anything is queued: LitServe
parses the JSON itself before ``decode_request`` (a malformed body would be its 500), and an error raised
inside a batch fails every request of that batch, so a bad request must never reach one. Every error
response, LitServe's and FastAPI's included (404, 405, 504, 500), is ``{"error": "..."}``.

Endpoints: ``POST /predict`` (see `textrnn.serve.protocol`), ``GET /health`` (``200 ok`` once every
worker has loaded the model, ``503 not ready`` before) and ``GET /info`` (LitServe's: ``"model"`` is
`model_info`, ``"server"`` the devices, workers and timeout).

Shutdown: SIGTERM or SIGINT to the main process stops the server the way LitServe stops it on request:
the HTTP processes stop accepting connections and finish their in-flight requests (up to 30 s), then
the workers stop; `serve` then returns 0. A worker that dies makes LitServe shut everything down, and
`serve` raises `ServerCrashed` (the command exits 1).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any, Optional, Union

import litserve as ls
from litserve.loops.base import _SENTINEL_VALUE, _StopLoopError
from litserve.loops.simple_loops import BatchedLoop
from fastapi import FastAPI
from fastapi.exceptions import HTTPException as FastAPIHTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textrnn.serve import ServerCrashed
from textrnn.serve.protocol import Limits, RequestError, parse_body, parse_payload, prediction_rows, too_large

logger = logging.getLogger("textrnn.serve")

API_PATH = "/predict"
HOSTS = ("127.0.0.1", "0.0.0.0", "::")  # the addresses LitServe binds to
PREDICT_BATCH_SIZE = 64  # texts per forward pass inside a worker (Classifier.predict's default)
WARMUP_TEXTS = ["warm up", "the first forward pass allocates; do it before the server reports ready"]
EXPORT_FILES = ("model.onnx", "tokenizer.json", "labels.json", "model.json")  # textrnn.inference.onnx.FILES


# ---- the model's card --------------------------------------------------------------------------------


def sha256_of(path: Union[str, Path]) -> str:
    """The SHA-256 of a checkpoint file; for an exported folder, of ``sha256sum`` 's lines for its four files,
    i.e. ``sha256sum model.onnx tokenizer.json labels.json model.json | sha256sum`` run inside it."""
    path = Path(path)

    def file_hash(file: Path) -> str:
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    if path.is_file():
        return file_hash(path)
    lines = "".join(f"{file_hash(path / name)}  {name}\n" for name in EXPORT_FILES)
    return hashlib.sha256(lines.encode()).hexdigest()


def model_info(path: Union[str, Path], classifier: Any) -> dict[str, Any]:
    """What ``GET /info`` reports under ``"model"``: model class, runtime, labels, vocabulary size,
    max_length (None: no truncation), textrnn version, and the checkpoint's name and SHA-256 (`sha256_of`)."""
    import textrnn

    model = getattr(classifier, "model", None)
    onnx = model is None
    truncation = classifier.tokenizer.truncation or {}
    return {
        "model_class": getattr(classifier, "model_class", None) if onnx else type(model).__name__,
        "runtime": "onnxruntime" if onnx else "torch",
        "labels": list(classifier.label_names),
        "num_classes": len(classifier.label_names),
        "vocab_size": classifier.tokenizer.get_vocab_size(with_added_tokens=True),
        "max_length": truncation.get("max_length"),
        "textrnn_version": textrnn.__version__,
        "checkpoint": Path(path).name,
        "checkpoint_sha256": sha256_of(path),
    }


# ---- the inference worker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Several requests' texts as one list: request i's texts are ``texts[starts[i]:starts[i + 1]]``;
    a request refused by `parse_payload` keeps its `RequestError` in ``errors[i]`` and adds no text."""

    texts: list[str]
    starts: list[int]
    errors: list[Optional[RequestError]]


class DrainingBatchedLoop(BatchedLoop):
    """LitServe's batched loop, collecting a batch so that an idle worker sleeps and a busy one never waits.

    LitServe's own collection starts its ``batch_timeout`` clock when it starts looking, polls the queue
    every millisecond meanwhile (a round trip to the multiprocessing manager each time, on an idle server
    too) and always waits out the timeout unless the batch is full. Here the worker blocks until a first
    request arrives (waking each second to notice a stop), takes every request already queued up to
    ``max_batch_size`` without waiting, and only then waits for more until ``batch_timeout`` seconds after
    that first request. Under load the queue fills while the previous batch runs, so batches form with no
    wait; with ``batch_timeout=0`` a lone request never waits at all.
    """

    def get_batch_requests(self, lit_api: ls.LitAPI, request_queue: Any, transport: Any) -> tuple[list, list]:
        payloads: list = []
        timed_out: list = []
        apply_timeout = lit_api.request_timeout not in (-1, False)
        deadline: Optional[float] = None
        while len(payloads) < lit_api.max_batch_size:
            try:
                if deadline is None:
                    item = request_queue.get(timeout=1.0)
                else:
                    item = request_queue.get_nowait()
            except Empty:
                if deadline is None:  # idle: look again (run_batched_loop calls back at once)
                    return payloads, timed_out
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = request_queue.get(timeout=remaining)
                except Empty:
                    break
            if item == _SENTINEL_VALUE:
                raise _StopLoopError()
            response_queue_id, uid, timestamp, x_enc = item
            if deadline is None:
                deadline = time.monotonic() + lit_api.batch_timeout
            if apply_timeout and time.monotonic() - timestamp > lit_api.request_timeout:
                timed_out.append((response_queue_id, uid))
            else:
                payloads.append((response_queue_id, uid, x_enc))
        return payloads, timed_out


class TextClassifierAPI(ls.LitAPI):
    """The LitAPI of ``textrnn serve``: one trained classifier per worker, dynamic batching over requests.

    Args:
        ckpt_path: a ``.ckpt`` file or a folder written by ``textrnn export``.
        device: what `textrnn.load` runs the model on; None: the device LitServe hands each worker.
        limits: the request limits `parse_payload` checks (again: `RequestGuard` checks them first).
        max_batch_size: the most requests one forward batch groups (1: no batching).
        batch_timeout: the longest a worker waits, in seconds, for a batch to fill.
        threads: intra-op threads per worker, for torch or ONNX Runtime on the CPU; None leaves their defaults
            (all cores each, which on a busy machine makes them wait on each other: see `build_server`).
    """

    def __init__(self, ckpt_path: Union[str, Path], device: Optional[str] = None, limits: Limits = Limits(),
                 max_batch_size: int = 64, batch_timeout: float = 0.01, threads: Optional[int] = None) -> None:
        with warnings.catch_warnings():  # batch/unbatch are defined but max_batch_size may be 1: that is fine
            warnings.simplefilter("ignore", UserWarning)
            super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path=API_PATH,
                             loop=DrainingBatchedLoop() if max_batch_size > 1 else "auto")
        self.ckpt_path = str(ckpt_path)
        self.requested_device = device
        self.limits = limits
        self.threads = threads
        self.classifier: Any = None

    def setup(self, device: str) -> None:
        """Load the model once for this worker and run one batch, so that "ready" means fast."""
        # Ctrl+C reaches every process of the terminal's group: the main process stops the server in order
        # (HTTP first, so in-flight requests finish), then ends this worker; it must not die first.
        if multiprocessing.parent_process() is not None:  # a worker process, not a caller's own process
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        import torch

        import textrnn

        if self.threads is not None:
            torch.set_num_threads(self.threads)
        self.classifier = textrnn.load(self.ckpt_path, device=self.requested_device or device)
        if getattr(self.classifier, "session", None) is not None and self.classifier.device.type == "cpu":
            from textrnn.inference.onnx import onnx_session  # the same model, on this worker's thread budget

            self.classifier.session = onnx_session(Path(self.ckpt_path) / "model.onnx", threads=self.threads or 0)
        self.classifier.predict(WARMUP_TEXTS, batch_size=PREDICT_BATCH_SIZE)

    def decode_request(self, request):  # no annotations: LitServe reads them as the FastAPI request/response types
        """The texts of the parsed JSON ``request``, or the `RequestError` it deserves (returned, not raised:
        LitServe fails a whole batch on an exception, and one bad request must not fail the others)."""
        try:
            return parse_payload(request, self.limits)
        except RequestError as err:
            return err

    def batch(self, inputs: Sequence[Union[list[str], RequestError]]) -> Batch:
        texts: list[str] = []
        starts, errors = [0], []
        for item in inputs:
            errors.append(item if isinstance(item, RequestError) else None)
            if errors[-1] is None:
                texts.extend(item)
            starts.append(len(texts))
        return Batch(texts, starts, errors)

    def predict(self, x: Union[Batch, list[str], RequestError]) -> Any:
        """Predictions for a `Batch` (batching on) or one request's texts (``max_batch_size=1``)."""
        if isinstance(x, RequestError):
            return x
        if isinstance(x, Batch):
            predictions = self.classifier.predict(x.texts, batch_size=PREDICT_BATCH_SIZE) if x.texts else []
            return x, predictions
        return self.classifier.predict(x, batch_size=PREDICT_BATCH_SIZE)

    def unbatch(self, output: tuple[Batch, list[Any]]) -> list[Any]:
        batch, predictions = output
        return [error if error is not None else predictions[start:end]
                for error, start, end in zip(batch.errors, batch.starts, batch.starts[1:])]

    def encode_response(self, output):  # no annotations (see decode_request)
        """``{"predictions": [row, ...]}`` (`textrnn.serve.protocol.prediction_rows`) for a list of predictions,
        or the error response for a `RequestError`."""
        if isinstance(output, RequestError):
            return error_response(output.status, output.message)
        return prediction_rows(output, bool(getattr(self.classifier, "multi_label", False)))


# ---- the HTTP side -----------------------------------------------------------------------------------


def error_response(status: int, message: str) -> JSONResponse:
    """``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status)


class RequestGuard:
    """ASGI middleware in front of ``POST /predict``: reads the body within ``limits.max_request_bytes``,
    checks it with `parse_body` and answers a bad one itself with a 4xx ``{"error": ...}``; a good one goes on
    to LitServe as ``application/json`` (so ``curl -d`` works without a Content-Type header).

    Args:
        app: the ASGI application it wraps.
        path: the prediction route.
        limits: the request limits.
    """

    def __init__(self, app: ASGIApp, path: str = API_PATH, limits: Limits = Limits()) -> None:
        self.app = app
        self.path = path
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            parse_body(body, self.limits)
        except RequestError as err:
            await error_response(err.status, err.message)(scope, receive, send)
            return
        except _Disconnected:
            return
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then wait for the disconnect, as the original would

        await self.app({**scope, "headers": headers}, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.limits.max_request_bytes
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise RequestError(400, f"the Content-Length header {value[:40]!r} is not a number") from None
                if declared > limit:  # refused unread
                    raise too_large(declared, self.limits)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(None, self.limits)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class _Disconnected(Exception):
    """The client went away before sending its whole body."""


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's and LitServe's own errors (404, 405, 500, 504) as ``{"error": ...}``."""
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", None) or "internal server error"
    headers = getattr(exc, "headers", None)
    message = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


# ---- the server --------------------------------------------------------------------------------------


def check_address(host: str, port: int) -> None:
    """A ValueError naming the problem unless LitServe can bind ``host``:``port`` and nothing else holds it."""
    if host not in HOSTS:
        hint = " (use 127.0.0.1 for localhost)" if host == "localhost" else ""
        raise ValueError(f"--host {host!r} is not an address textrnn serve binds to{hint}; valid hosts: "
                         f"{', '.join(HOSTS)} (127.0.0.1: this machine only; 0.0.0.0 or ::: every interface)")
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise ValueError(f"--port {port!r} is not a port textrnn serve can use; valid ports: 1024 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as err:
            raise ValueError(f"cannot listen on {host} port {port}: {err.strerror}; choose another --port") from None


def _litserve_device(device: Optional[str]) -> tuple[str, Union[int, list[int]]]:
    """LitServe's (accelerator, devices) for a textrnn device: "cpu", "cuda" (GPU 0) or "cuda:N"."""
    if device is None or device == "cpu":
        return "cpu", 1
    if device == "cuda":
        return "cuda", [0]
    if device.startswith("cuda:") and device[5:].isdigit():
        return "cuda", [int(device[5:])]
    raise ValueError(f"--device {device!r} is not a device textrnn serve runs on; valid devices: cpu, cuda, cuda:N")


class _LitServer(ls.LitServer):
    """LitServer that logs one line when the workers are ready and the HTTP side is about to start."""

    ready_message = ""

    def verify_worker_status(self) -> None:
        super().verify_worker_status()
        if self.ready_message:
            logger.info(self.ready_message)


def build_server(ckpt_path: Union[str, Path], *, device: Optional[str] = None, workers: int = 1,
                 max_batch_size: int = 64, batch_timeout: float = 0.01, limits: Limits = Limits(),
                 timeout: float = 30.0, threads: Optional[int] = 1, info: Optional[dict[str, Any]] = None) -> ls.LitServer:
    """A LitServer for one trained model (not started: call ``run``, or `serve`).

    Args:
        ckpt_path: a ``.ckpt`` file or a folder written by ``textrnn export``.
        device: "cpu" (default), "cuda" or "cuda:N".
        workers: inference worker processes (each loads the model; one HTTP process each).
        max_batch_size: the most requests one batch groups; 1 turns batching off.
        batch_timeout: seconds a worker waits for a batch to fill.
        limits: request limits (body size, texts per request).
        timeout: seconds a request may wait for a worker before it is answered 504.
        threads: intra-op threads of each worker on the CPU (None: torch's and ONNX Runtime's default, all
            cores). One by default: the HTTP process needs a core too, and on a 2-core machine shared with
            other jobs two torch threads per forward pass made single texts 10-30x slower (they wait on each
            other's busy cores); more cores are used through ``workers``.
        info: the ``"model"`` part of ``GET /info`` (see `model_info`).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {workers!r}")
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise ValueError(f"--max_batch_size must be an integer >= 1, got {max_batch_size!r}")
    if not 0 <= batch_timeout < timeout:
        raise ValueError(f"--batch_timeout must be >= 0 seconds and below --timeout ({timeout}), got {batch_timeout!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"--threads must be an integer >= 1, got {threads!r}")
    accelerator, devices = _litserve_device(device)
    api = TextClassifierAPI(ckpt_path, device if accelerator == "cpu" else None, limits, max_batch_size,
                            batch_timeout, threads)
    server = _LitServer(
        api, accelerator=accelerator, devices=devices, workers_per_device=workers, timeout=timeout,
        model_metadata=info, middlewares=[(RequestGuard, {"path": API_PATH, "limits": limits})],
    )
    app: FastAPI = server.app
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(FastAPIHTTPException, _http_error)
    app.add_exception_handler(Exception, _http_error)
    return server


def serve(ckpt_path: Union[str, Path], *, host: str = "127.0.0.1", port: int = 8000, device: Optional[str] = None,
          workers: int = 1, max_batch_size: int = 64, batch_timeout: float = 0.01, limits: Limits = Limits(),
          timeout: float = 30.0, threads: Optional[int] = 1, log_level: str = "warning") -> dict[str, Any]:
    """Serve a trained model over HTTP until SIGTERM or SIGINT; returns its `model_info` after a requested stop.

    The model is loaded here first, so a bad checkpoint, device or missing extra is one error before any
    process starts; each worker then loads its own copy. Arguments as `build_server`, plus ``host`` and
    ``port`` (checked by `check_address`) and ``log_level`` (LitServe's and uvicorn's; "info" logs each request).
    A signal that comes before the server has started ends the call with ``SystemExit(0)``.

    Raises:
        ValueError, OSError: a bad argument, checkpoint or address (see `textrnn.load`, `check_address`).
        ServerCrashed: a worker failed or died; the server has been stopped.
    """
    import textrnn

    stop = _StopOnSignal()
    try:
        _litserve_device(device)
        check_address(host, port)
        classifier = textrnn.load(ckpt_path, device=device or "cpu")
        info = model_info(ckpt_path, classifier)
        del classifier
        server = build_server(ckpt_path, device=device, workers=workers, max_batch_size=max_batch_size,
                              batch_timeout=batch_timeout, limits=limits, timeout=timeout, threads=threads,
                              info=info)
        shown = f"[{host}]" if ":" in host else host
        server.ready_message = (f"textrnn serve: {info['model_class']} ({info['runtime']}, {len(info['labels'])} "
                                f"classes) from {ckpt_path} on http://{shown}:{port} (POST {API_PATH}, GET /health, "
                                "GET /info); SIGTERM or Ctrl+C stops it")
        stop.server = server
        try:
            server.run(host=host, port=port, log_level=log_level, generate_client_file=False,
                       api_server_worker_type="process")
        except RuntimeError as err:  # LitServe: "One or more workers failed to start"
            _stop_children(server)
            raise ServerCrashed(f"the server could not start: {err}") from None
        except (EOFError, OSError) as err:  # the manager went away: a worker died and LitServe stopped
            _stop_children(server)
            if not stop.requested:
                raise ServerCrashed(f"the server stopped on its own (a worker died?): {err}") from None
    finally:
        stop.restore()
    if not stop.requested:
        raise ServerCrashed("the server stopped on its own (a worker died?)")
    return info


class _StopOnSignal:
    """SIGTERM and SIGINT in the main process stop the server: before it runs, with ``SystemExit(0)``; once
    it runs, by setting LitServe's shutdown event, from a thread (the main thread may be inside the call to
    the multiprocessing manager that waits for that event). In a process forked from this one that has
    not installed its own handlers yet, they do what they would have done by default."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.server: Optional[ls.LitServer] = None
        self.requested = False
        self.pid = os.getpid()
        self.previous = {signum: signal.signal(signum, self.handle) for signum in self.SIGNALS}

    def handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if self.requested:
            return
        self.requested = True
        event = getattr(self.server, "_shutdown_event", None)
        if event is None:  # not started: nothing is in flight
            raise SystemExit(0)
        name = signal.Signals(signum).name

        def stop() -> None:  # logging takes locks: not from inside the handler
            logger.info(f"textrnn serve: {name} received; finishing the requests in flight, then stopping")
            event.set()

        threading.Thread(target=stop, name="textrnn-serve-stop", daemon=True).start()

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _stop_children(server: ls.LitServer) -> None:
    """End the workers LitServe started, if its own shutdown did not run."""
    for process in getattr(server, "inference_workers", []):
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
