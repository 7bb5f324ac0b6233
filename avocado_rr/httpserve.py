"""A small HTTP server on 127.0.0.1 for guests to fetch files from.

QEMU's user-mode network (slirp) makes the host's 127.0.0.1 reachable from
the guest as 10.0.2.2, so a recording can fetch a file the test serves;
the replay takes the packets from the log and needs no server.
"""

from __future__ import annotations

import hashlib
import http.server
import threading


class FileServer:
    """Serves fixed in-memory files (``{"/path": bytes}``) over HTTP/1.0.

    Use as a context manager, or :meth:`start` and :meth:`stop`.  It binds
    a free port on 127.0.0.1 (:attr:`port`) and counts the requests it
    answered (:attr:`requests`, ``(path, status)`` pairs).
    """

    def __init__(self, files: dict[str, bytes], host: str = "127.0.0.1"):
        for path in files:
            if not path.startswith("/"):
                raise ValueError(f"served path {path!r} must start with /")
        self.files = dict(files)
        self.host = host
        self.requests: list[tuple[str, int]] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                body = server.files.get(self.path)
                status = 200 if body is not None else 404
                with server._lock:
                    server.requests.append((self.path, status))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return self._server.server_address[1]

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> "FileServer":
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._server = http.server.ThreadingHTTPServer((self.host, 0),
                                                       self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="avocado-rr-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._thread.join()

    def __enter__(self) -> "FileServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def payload(size: int = 65536, seed: bytes = b"avocado-rr payload") -> bytes:
    """Deterministic pseudo-random bytes (a sha256 chain from ``seed``)."""
    out, block = bytearray(), seed
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


__all__ = ["FileServer", "payload"]
