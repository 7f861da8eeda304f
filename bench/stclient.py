"""A Streamlit session without a browser: the websocket protocol the frontend speaks, enough to run pages.

``Session`` connects to ``ws://host/_stcore/stream``, asks the server to run a
page with a query string (``run``), and reads the server's messages until the
script has finished, keeping the buttons it drew so that one can be pressed
(``press``). Used by ``bench/bench_class.py`` to play 30 students on one server.
Only loopback servers are meant: the bench starts its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect


@dataclass
class Render:
    """One script run as the client saw it: seconds from the request to ``script_finished``, how it ended, the
    text of every exception and error element drawn, and of every note (info) and progress bar."""

    seconds: float
    status: int
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Session:
    """One browser tab's session on the server at ``base`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, base: str, timeout: float = 600):
        self.url = base.replace("http://", "ws://") + "/_stcore/stream"
        self.timeout = timeout
        self.buttons: dict[str, str] = {}  # label -> widget id, from the last run
        self.page = ""
        self.query = ""
        # no keepalive pings: 30 sessions on 2 cores can hold the server past the 20 s a pong is waited for
        self._socket: ClientConnection = connect(self.url, subprotocols=["streamlit"], max_size=None,
                                                 ping_interval=None, open_timeout=60)

    def close(self) -> None:
        self._socket.close()

    def run(self, page: str, query: str) -> Render:
        """Run ``page`` (its URL path; "" for home) with ``query`` and wait for it to finish."""
        self.page, self.query = page, query
        return self._rerun([])

    def press(self, label_start: str) -> Render:
        """Press the button (drawn by the last run) whose label starts with ``label_start``."""
        widget = next(wid for label, wid in self.buttons.items() if label.startswith(label_start))
        return self._rerun([WidgetState(id=widget, trigger_value=True)])

    def _rerun(self, widgets: list[WidgetState]) -> Render:
        message = BackMsg()
        message.rerun_script.query_string = self.query
        message.rerun_script.page_name = self.page
        message.rerun_script.widget_states.widgets.extend(widgets)
        start = time.perf_counter()
        self._socket.send(message.SerializeToString())
        self.buttons = {}
        render = Render(0.0, 0)
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(self._socket.recv(timeout=self.timeout))
            if reply.HasField("script_finished") and reply.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                render.seconds, render.status = time.perf_counter() - start, reply.script_finished
                return render  # a run that ends early for a rerun (st.rerun) is followed by that rerun
            self._read_element(reply, render)

    def _read_element(self, reply: ForwardMsg, render: Render) -> None:
        if not reply.HasField("delta") or not reply.delta.HasField("new_element"):
            return
        element = reply.delta.new_element
        kind = element.WhichOneof("type")
        if kind == "button":
            self.buttons[element.button.label] = element.button.id
        elif kind == "exception":
            render.errors.append(f"{element.exception.type}: {element.exception.message}")
        elif kind == "alert" and element.alert.format == element.alert.ERROR:
            render.errors.append(element.alert.body)
        elif kind == "alert" and element.alert.format == element.alert.INFO:
            render.notes.append(element.alert.body)
        elif kind == "progress":
            render.notes.append(element.progress.text)
