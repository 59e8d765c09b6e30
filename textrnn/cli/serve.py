"""``textrnn serve``: a trained checkpoint or exported folder behind an HTTP API, on LitServe.

    textrnn serve --ckpt_path runs/textcnn/version_0/checkpoints/last.ckpt
    textrnn serve --ckpt_path textcnn_onnx/ --port 8080 --max_batch_size 32
    curl -d '{"text": "The striker scored twice."}' http://127.0.0.1:8000/predict

``POST /predict`` takes ``{"text": "..."}`` or ``{"texts": [...]}`` and answers one row per text, with the
fields of ``textrnn classify``'s rows (``index``, ``label``, ``confidence``, ``prob_<class>``); ``GET /health``
is 200 once the model is loaded; ``GET /info`` names the model, its labels and the checkpoint's SHA-256.
A bad request is a 4xx ``{"error": "..."}`` and the server goes on. SIGTERM or Ctrl+C stops it after the
requests in flight (exit 0). Needs the optional extra ``pip install "textrnn[serve]"``. The protocol is
`textrnn.serve.protocol`; the server `textrnn.serve.server`; the guide docs/serving.md.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from textrnn.cli.subcommand import run_subcommand
from textrnn.serve.protocol import DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TEXTS, Limits

EXTRA = 'pip install "textrnn[serve]"'
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textrnn serve",
        description="Serve a trained textrnn checkpoint or exported folder over HTTP (POST /predict, GET /health, "
                    'GET /info); needs pip install "textrnn[serve]".',
    )
    parser.add_argument("--ckpt_path", required=True,
                        help="a checkpoint written by `textrnn fit` (.ckpt) or a folder written by `textrnn export` "
                             "(run by ONNX Runtime)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on: 127.0.0.1 (default: this machine only), 0.0.0.0 or ::")
    parser.add_argument("--port", type=int, default=8000, help="the TCP port, 1024 to 65535 (default: 8000)")
    parser.add_argument("--workers", type=int, default=1,
                        help="inference worker processes, each with its own copy of the model (default: 1)")
    parser.add_argument("--max_batch_size", type=int, default=64,
                        help="the most concurrent requests one forward batch groups; 1 turns batching off (default: 64)")
    parser.add_argument("--batch_timeout", type=float, default=0.01,
                        help="seconds a worker waits for a batch to fill (default: 0.01)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads per worker on the CPU (default: 1; use --workers for more cores)")
    parser.add_argument("--max_request_bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES,
                        help=f"the largest request body read, in bytes; larger is a 413 (default: {DEFAULT_MAX_REQUEST_BYTES})")
    parser.add_argument("--max_texts", type=int, default=DEFAULT_MAX_TEXTS,
                        help=f"the most texts one request may hold; more is a 413 (default: {DEFAULT_MAX_TEXTS})")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds a request may wait for a worker before it is answered 504 (default: 30)")
    parser.add_argument("--log_level", default="warning", choices=LOG_LEVELS,
                        help="LitServe's and uvicorn's log level; info logs every request (default: warning)")
    return parser


def run(args: argparse.Namespace) -> None:
    """Check the arguments, then serve until SIGTERM or SIGINT."""
    limits = Limits(args.max_request_bytes, args.max_texts)  # a bad limit fails before anything loads
    try:
        importlib.import_module("litserve")
    except ImportError as err:
        raise ValueError(f"textrnn serve needs the optional extra: {EXTRA} (cannot import 'litserve': {err})") from None
    from textrnn.serve.server import serve  # torch and LitServe load here, after the arguments are known to be good

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("textrnn.serve")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    serve(args.ckpt_path, host=args.host, port=args.port, device=args.device, workers=args.workers,
          max_batch_size=args.max_batch_size, batch_timeout=args.batch_timeout, limits=limits,
          timeout=args.timeout, threads=args.threads, log_level=args.log_level)
    log.info("textrnn serve: stopped")


def main(argv: list[str]) -> int:
    """Run ``textrnn serve`` on ``argv`` (the arguments after "serve"); returns the exit code: 0 after a requested
    stop (SIGTERM, SIGINT), 2 and one line on stderr for a user error (a bad checkpoint, address, device or
    limit), 1 when the server crashed (a worker died)."""
    from textrnn.serve import ServerCrashed

    try:
        return run_subcommand("serve", build_parser(), run, argv)
    except ServerCrashed as err:
        sys.stderr.write(f"textrnn serve: error: {err}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
