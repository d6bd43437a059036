"""A stand-in for driftwatch's ingest and labels endpoints, on the standard library's http.server.

Each request is decoded (gzip, NDJSON or JSON) and recorded; the answer is the next scripted one, or the
real service's: records deduplicated by (model, request_id), counted as accepted or duplicates.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional, Tuple, Union

# A scripted answer: (status, headers, body), "drop" (close the connection without answering), or a
# function called with the decoded items that returns one of those.
Answer = Union[Tuple[int, Dict[str, str], bytes], str, Callable[[list], "Answer"]]


class Received:
    def __init__(self, path: str, headers: Dict[str, str], items: list, thread: str) -> None:
        self.path = path
        self.headers = headers
        self.items = items
        self.thread = thread


class FakeDriftwatch:
    def __init__(self, port: int = 0) -> None:
        self.requests: List[Received] = []
        self.stored: Dict[Tuple[str, str], dict] = {}
        self.script: List[Answer] = []
        self.changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                text = raw.decode("utf-8")
                if "ndjson" in (self.headers.get("Content-Type") or ""):
                    items = [json.loads(line) for line in text.split("\n") if line]
                else:
                    items = json.loads(text)
                answer = fake._answer(self.path, items)
                with fake.changed:
                    fake.requests.append(
                        Received(self.path, dict(self.headers), items, threading.current_thread().name)
                    )
                    fake.changed.notify_all()
                if answer == "drop":
                    self.close_connection = True
                    return
                status, headers, body = answer
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def _answer(self, path: str, items: list) -> Tuple[int, Dict[str, str], bytes]:
        with self.changed:
            answer: Answer = self.script.pop(0) if self.script else self._store
        while callable(answer):
            answer = answer(items)
        return answer  # type: ignore[return-value]

    def _store(self, items: list) -> Tuple[int, Dict[str, str], bytes]:
        """What driftwatch does: the first copy of a (model, request_id) wins."""
        with self.changed:
            accepted = duplicates = 0
            for item in items:
                key = (item["model"], item["request_id"])
                if "features" not in item:  # a label
                    continue
                if key in self.stored:
                    duplicates += 1
                else:
                    self.stored[key] = item
                    accepted += 1
        return 200, {}, json.dumps({"accepted": accepted, "duplicates": duplicates, "rejected": []}).encode()

    def store(self, items: list) -> Tuple[int, Dict[str, str], bytes]:
        return self._store(items)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def record_ids(self) -> List[str]:
        return [i["request_id"] for r in self.requests if r.path == "/v1/ingest" for i in r.items]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
