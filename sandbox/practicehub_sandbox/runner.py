"""Serve an app with waitress on 127.0.0.1, able to drop a connection without answering."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from .server import DROP_CONNECTION_KEY, make_app

HOST = "127.0.0.1"
# How long one poll of the sockets may wait: short, so stop() returns quickly; not zero, so idle is idle.
LOOP_TIMEOUT = 0.1

# "Task queue depth is N" on every busy moment says nothing useful about a sandbox.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class _DroppableTask(WSGITask):
    """A WSGI task whose app may ask for the connection to be closed with nothing written."""

    dropped = False

    def get_environment(self):
        environ = super().get_environment()
        environ[DROP_CONNECTION_KEY] = self._drop
        return environ

    def _drop(self) -> None:
        self.dropped = True
        self.close_on_finish = True

    def write(self, data):
        if self.dropped:
            self.wrote_header = True  # so waitress does not answer with its own 500 either
            return
        super().write(data)

    def finish(self):
        if self.dropped:
            self.close_on_finish = True
            return
        super().finish()


class _Channel(HTTPChannel):
    task_class = _DroppableTask


class _Server(TcpWSGIServer):
    channel_class = _Channel


class WaitressServer:
    """A waitress server bound to 127.0.0.1 (port 0 picks a free one)."""

    def __init__(self, app, port: int = 0, threads: int = 8) -> None:
        adj = Adjustments(
            host=HOST, port=port, threads=threads, ident="practicehub-sandbox", asyncore_use_poll=True
        )
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(threads)
        self._server = _Server(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
        self.port: int = self._server.effective_port
        self.root_url = f"http://{HOST}:{self.port}"
        self.base_url = f"{self.root_url}/api"
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """waitress's own run(), but with LOOP_TIMEOUT: its `asyncore_loop_timeout` setting is read as an int,
        so 0.1 became 0 and the idle loop polled without waiting (a whole CPU)."""
        server = self._server
        try:
            server.asyncore.loop(timeout=LOOP_TIMEOUT, map=server._map, use_poll=server.adj.asyncore_use_poll)
        except (SystemExit, KeyboardInterrupt):
            server.task_dispatcher.shutdown()

    def start(self) -> WaitressServer:
        self._thread = threading.Thread(target=self.serve_forever, name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then stop the worker threads."""
        server = self._server
        server.close()  # the listener and the loop's wake-up trigger
        while server._map:
            for channel in list(server._map.values()):
                channel.handle_close()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class RunningSandbox:
    """A sandbox served from a background thread of this process."""

    server: WaitressServer
    app: object

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def root_url(self) -> str:
        return self.server.root_url

    def stop(self) -> None:
        self.server.stop()


def run_in_thread(dataset: dict, settings=None, port: int = 0, threads: int = 8) -> RunningSandbox:
    """Start make_app(dataset, settings) on 127.0.0.1 in a daemon thread; call .stop() when done."""
    app = make_app(dataset, settings)
    return RunningSandbox(WaitressServer(app, port=port, threads=threads).start(), app)
