"""A file server on 127.0.0.1 for the download tests: it honours `Range: bytes=N-`, can cut
a file's first answer halfway, stall before answering, and records each request."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: the longest a stalled answer waits (the test's own timeout ends it long before)
STALL_S = 10.0


@dataclass
class Loopback:
    """What the server serves (by path and query) and how, and what it was asked."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: paths whose next answer stops after half of its bytes
    cut_once: set[str] = field(default_factory=set)
    stall: bool = False
    #: whether a Range header is honoured (else the whole file is sent again, with 200)
    ranges: bool = True
    #: (path, Range header or None) of each request, in order
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""
    release: threading.Event = field(default_factory=threading.Event)


def _handler(state: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Range")))
            if state.stall:
                state.release.wait(STALL_S)
                return
            data = state.files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            start = 0
            asked = state.ranges and re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if asked:
                start = int(asked[1])
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path in state.cut_once:
                state.cut_once.discard(self.path)
                body = body[: len(body) // 2]
            self.wfile.write(body)

    return Handler


@contextmanager
def serving(state: Loopback) -> Iterator[Loopback]:
    """Serve `state` on a free port of 127.0.0.1 for the block's duration."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
