"""The app's server reaches nothing beyond the loopback interface while it starts and serves a page.

Streamlit's start banner looks up the machine's addresses — a datagram socket
"connected" to 8.8.8.8 and an HTTP request to checkip.amazonaws.com — unless
``browser.serverAddress`` is set; ``.streamlit/config.toml`` sets it. The
server runs here as a user starts it (``streamlit run app.py``, no address
flag) with ``tests/netguard`` on its path, which refuses and logs every
attempt to reach another address.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.browser import free_port

REPO = Path(__file__).resolve().parents[1]
GUARD = Path(__file__).resolve().parent / "netguard"


def wait_for(url: str, seconds: float) -> bytes:
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_the_server_reaches_nothing_beyond_loopback_while_it_starts_and_serves(tmp_path):
    log = tmp_path / "outside.log"
    log.touch()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(GUARD), str(REPO)]), "SHIFTLAB_NETGUARD_LOG": str(log)}
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/_stcore/health", 60) == b"ok"
        assert b"<html" in wait_for(f"http://127.0.0.1:{port}/", 10).lower()
        time.sleep(1.0)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert log.read_text() == "", f"outside requests: {log.read_text()}"
    assert f"http://localhost:{port}" in output


def test_shiftlab_app_names_the_port_students_open():
    from argparse import Namespace

    from shiftlab.app.launch import port_of

    assert port_of(Namespace(streamlit_args=[])) == "8501"
    assert port_of(Namespace(streamlit_args=["--server.port", "8600"])) == "8600"
    assert port_of(Namespace(streamlit_args=["--server.port=8700", "--theme.base", "dark"])) == "8700"
