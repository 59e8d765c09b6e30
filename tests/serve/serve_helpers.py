"""Start ``textrnn serve`` in a subprocess on a free loopback port, call it over HTTP, stop it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240  # seconds: the CLI imports Lightning, then a spawned worker imports torch and loads the model


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``python -m textrnn.cli serve --ckpt_path PATH --port <free> EXTRA...``; ``wait_ready`` polls /health."""

    def __init__(self, ckpt_path: Path, *extra: str, log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        self.log = log.open("w")
        env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "textrnn.cli", "serve", "--ckpt_path", str(ckpt_path), "--port", str(self.port),
             *extra], stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO, env=env,
            start_new_session=True)  # its own process group: kill() ends the workers too

    def wait_ready(self) -> "ServerProcess":
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                status, body = self.request("GET", "/health", timeout=2)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.kill()
        raise AssertionError(f"the server was not ready after {START_TIMEOUT} s:\n{self.output()}")

    def request(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict] = None,
                timeout: float = 60) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def post_json(self, payload: Any) -> tuple[int, Any]:
        status, body = self.request("POST", "/predict", json.dumps(payload).encode(),
                                    {"Content-Type": "application/json"})
        return status, json.loads(body)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self, timeout: float = 90) -> int:
        """SIGTERM, then the exit code (killed after ``timeout`` s: a hang fails the test that asked)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the server did not stop within {timeout} s of SIGTERM:\n{self.output()}")
        finally:
            self.log.close()

    def kill(self) -> None:
        """SIGKILL to the server's whole process group (main, HTTP, workers, manager)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
