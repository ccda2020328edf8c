"""The explorer's local web server: the standard library's HTTP server on 127.0.0.1, one page
(no CDN: everything it needs is in it) and one JSON endpoint that answers every edit.

    GET  /             the page
    GET  /api/initial  the numbers to start from (the command line's options)
    POST /api/compute  {numbers…} -> every dependent number, or {"error": "…"} with status 400

A bad request gets one clear message and never stops the server; a body over 64 kB is refused
unread; a client that stalls is dropped after 10 s.
"""

from __future__ import annotations

import errno
import json
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from chainrule.errors import BadInputError

__all__ = ["ExplorerServer", "MAX_BODY"]

MAX_BODY = 64 * 1024
HOST = "127.0.0.1"


def _page() -> bytes:
    return resources.files("chainrule.explorer").joinpath("page.html").read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server_version = "chainrule-explore"
    timeout = 10  # seconds a stalled client may hold its connection
    session: Any = None  # set on the subclass each server makes
    quiet = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if not self.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, allow_nan=False).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True
        self._json(status, {"error": message})

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, _page(), "text/html; charset=utf-8")
        elif path == "/favicon.ico":  # browsers ask; nothing to send, and no error to log
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
        elif path == "/api/initial":
            self._json(HTTPStatus.OK, {"kind": self.session.kind, **self.session.initial()})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no page {path!r}: the explorer is at /")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] != "/api/compute":
            self._error(HTTPStatus.NOT_FOUND, f"nothing to POST at {self.path!r}")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED, "the request needs a Content-Length")
            return
        if int(length) > MAX_BODY:
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the request is {int(length):,} bytes; at most {MAX_BODY:,} are read",
            )
            return
        raw = self.rfile.read(int(length))
        try:
            payload = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, BadInputError) as error:
            self._error(HTTPStatus.BAD_REQUEST, f"the request is not valid JSON: {error}")
            return
        try:
            answer = self.session.compute(payload)
        except (BadInputError, ValueError, TypeError) as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
            return
        except Exception as error:  # noqa: BLE001 - reported, and the server keeps serving
            traceback.print_exc()
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"the engine failed: {error}")
            return
        try:
            self._json(HTTPStatus.OK, answer)
        except ValueError:  # a non-finite number: training diverged
            self._error(
                HTTPStatus.BAD_REQUEST,
                "the numbers overflowed (training diverged): try a smaller learning rate",
            )


def _no_constant(name: str) -> Any:
    raise BadInputError(f"{name} is not a number the explorer accepts")


class ExplorerServer:
    """A running explorer for ``session`` on 127.0.0.1:``port`` (0: a free port)."""

    def __init__(self, session: Any, port: int = 0, quiet: bool = True) -> None:
        handler = type("Handler", (_Handler,), {"session": session, "quiet": quiet})
        try:
            self.httpd = ThreadingHTTPServer((HOST, port), handler)
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                raise BadInputError(
                    f"explore: port {port} on {HOST} is "
                    f"{'in use' if error.errno == errno.EADDRINUSE else 'not allowed'}; "
                    "pick another with --port N, or --port 0 for a free one"
                ) from error
            raise
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def serve_forever(self) -> None:
        """Serve until ``close()`` or Ctrl-C (which returns cleanly)."""
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()

    def start(self) -> ExplorerServer:
        """Serve from a background thread (for notebooks and tests); returns self."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> ExplorerServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
