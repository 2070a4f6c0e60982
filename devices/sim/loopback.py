"""A simulated network recorder's server: a TCP listener on 127.0.0.1 (a free port), one
thread per connection, as a context manager. The protocol simulators (``e12sim``, ``zzxsim``)
say what a connection hears in ``serve``."""

from __future__ import annotations

import socket
import socketserver
import threading
from types import TracebackType
from typing import Self


class LoopbackServer:
    def __init__(self) -> None:
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server.serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
