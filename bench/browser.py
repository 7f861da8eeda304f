"""Driving the real app in Debian's chromium: start a server, wait for a page to finish. Shared by the
real-browser test (tests/test_browser.py) and the app benchmark (bench/bench_app.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
#: a page is done when Streamlit shows no running indicator for this long
SETTLE_MS = 800
#: Streamlit's running indicator
STATUS = "[data-testid='stStatusWidget']"


def free_port() -> int:
    """A TCP port free on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """``streamlit run app.py`` on a free loopback port; yields its base URL once the port accepts connections."""
    with app_process(env) as (url, _):
        yield url


@contextmanager
def app_process(env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``app_server``, yielding the server's process too (to read its memory)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true"], cwd=REPO, env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(timeout=20)


def settle(page, timeout_s: float = 180) -> float:
    """Wait until the app has finished running its script (no status widget for ``SETTLE_MS``).

    Returns the ``time.time()`` at which it went quiet: when the work ended.
    """
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    quiet_since = time.time()
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if page.locator(STATUS).count():
            quiet_since = time.time()
        elif (time.time() - quiet_since) * 1000 > SETTLE_MS:
            return quiet_since
        page.wait_for_timeout(100)
    raise TimeoutError(f"the app kept running for {timeout_s:.0f} s")
