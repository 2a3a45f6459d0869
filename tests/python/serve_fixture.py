"""`ishowtts serve` started for a test: a free loopback port, the default
voice, a voices folder of its own; stopped with SIGTERM, which must end it
cleanly (exit status 0) within 20 s."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("ISHOWTTS_CLI", ROOT / "target" / "release" / "ishowtts"))
MODELS = Path(os.environ.get("ISHOWTTS_MODELS_DIR", ROOT / "models"))
VOICE = MODELS / "en_US-joe-medium.onnx"


@contextmanager
def serve(tmp: Path, *extra: str, timeout: float = 60.0) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) of a running service."""
    env = dict(os.environ, ISHOWTTS_VOICE=str(VOICE), ISHOWTTS_LOG="warn")
    proc = subprocess.Popen(
        [str(CLI), "serve", "--host", "127.0.0.1", "--port", "0",
         "--voices-dir", str(tmp / "voices"), *extra],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            left = deadline - time.monotonic()
            assert left > 0, "the service did not start in time"
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            line = proc.stdout.readline()
            assert line, f"the service exited with {proc.wait()}"
            if "listening on " in line:
                url = line.rsplit("listening on ", 1)[1].strip()
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the service did not stop within 20 s of SIGTERM")
    assert code == 0, f"the service exited with {code} after SIGTERM"
