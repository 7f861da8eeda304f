"""``shiftlab app``: start the Streamlit app of the checkout this package runs from.

The app is ``app.py`` and ``app_pages/`` at the root of the checkout (an
editable install, ``pip install -e .``, keeps them there); flags after
``shiftlab app`` go to ``streamlit run`` (``--server.port 8600``, ...).
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import click
from streamlit.web import cli as streamlit_cli

from shiftlab.errors import ParameterError, ShiftlabError

APP = Path(__file__).resolve().parents[2] / "app.py"
#: Streamlit's port unless ``--server.port`` says otherwise
DEFAULT_PORT = 8501


def configure(parser: argparse.ArgumentParser) -> None:
    """``shiftlab app`` takes no flags of its own: the rest go to ``streamlit run``."""
    parser.epilog = "Any other flag is passed to `streamlit run`, e.g. shiftlab app --server.port 8600"


def run(args: argparse.Namespace) -> None:
    """Run ``streamlit run app.py`` in this process; a flag ``streamlit run`` refuses (an unknown option, a port
    that is not a number) is a ``ParameterError`` naming it, not Click's traceback."""
    if not APP.is_file():
        raise ShiftlabError(f"the app is not here ({APP} is missing): install shiftlab from a checkout with "
                            "`pip install -e .` and run `shiftlab app` from it")
    print(f"  Other machines on this network: http://{socket.gethostname()}:{port_of(args)} "
          "(or this machine's IP address)", flush=True)
    try:
        streamlit_cli.main(["run", str(APP), *getattr(args, "streamlit_args", [])], standalone_mode=False)
    except click.ClickException as exc:
        raise ParameterError(f"streamlit run refused the flags: {exc.format_message()} "
                             "(see `streamlit run --help`)") from exc


def port_of(args: argparse.Namespace) -> str:
    """The port ``--server.port N`` (or ``--server.port=N``) among the flags asks for, else Streamlit's default.

    Printed by ``run`` for students' machines: the app's own banner names only ``localhost``, because finding
    the machine's network address would make Streamlit contact outside servers (see .streamlit/config.toml).
    """
    flags = list(getattr(args, "streamlit_args", []))
    for i, flag in enumerate(flags):
        if flag.startswith("--server.port="):
            return flag.partition("=")[2]
        if flag == "--server.port" and i + 1 < len(flags):
            return flags[i + 1]
    return str(DEFAULT_PORT)
