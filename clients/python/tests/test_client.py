"""driftwatch.Client against a fake driftwatch: batching, retries, back-pressure, shutdown."""

from __future__ import annotations

import logging
import math
import os
import socket
import subprocess
import sys
import threading
import unittest

from driftwatch import Client
from fake_server import FakeDriftwatch

# Retries log warnings by design; the tests that mean to see them use assertLogs.
logging.getLogger("driftwatch").addHandler(logging.NullHandler())
logging.getLogger("driftwatch").propagate = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PausesRecorded(Client):
    """Records each retry delay instead of waiting it: the tests drive the clock."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pauses: list = []

    def _pause(self, seconds: float) -> None:
        self.pauses.append(seconds)


class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = FakeDriftwatch()
        self.clients: list = []

    def tearDown(self) -> None:
        for c in self.clients:
            c.close(timeout=5)
        self.server.close()

    def client(self, cls=Client, **kwargs) -> Client:
        c = cls(self.server.url, **kwargs)
        self.clients.append(c)
        return c

    def log(self, client: Client, n: int, start: int = 0) -> None:
        for i in range(start, start + n):
            self.assertTrue(client.log("churn", f"r{i}", {"age": i, "plan": "pro"}, prediction=0.5))

    def test_sends_gzipped_ndjson_batches_of_batch_size_with_the_token(self) -> None:
        c = self.client(token="s3cret", batch_size=500)
        self.log(c, 1200)
        self.assertTrue(c.flush(timeout=20))
        ingests = [r for r in self.server.requests if r.path == "/v1/ingest"]
        self.assertEqual([len(r.items) for r in ingests], [500, 500, 200])
        self.assertEqual(ingests[0].headers["Content-Encoding"], "gzip")
        self.assertEqual(ingests[0].headers["Content-Type"], "application/x-ndjson")
        self.assertEqual(ingests[0].headers["Authorization"], "Bearer s3cret")
        self.assertEqual(self.server.record_ids(), [f"r{i}" for i in range(1200)])
        first = ingests[0].items[0]
        self.assertEqual(first["features"], {"age": 0, "plan": "pro"})
        self.assertEqual(first["prediction"], 0.5)
        self.assertIsInstance(first["timestamp"], int)  # the time of log(), not of delivery
        self.assertEqual(c.accepted, 1200)

    def test_a_partial_batch_leaves_after_flush_interval_without_flush(self) -> None:
        c = self.client(flush_interval=0.05)
        self.log(c, 3)
        self.assertTrue(self.server.wait_for(lambda: len(self.server.record_ids()) == 3))

    def test_log_only_queues_every_request_is_made_by_the_sender_thread(self) -> None:
        c = self.client()
        self.log(c, 10)
        c.log_label("churn", "r1", 1)
        self.assertTrue(c.flush(timeout=20))
        posts: list = []
        original = c._post

        def spy(*args):
            posts.append(threading.current_thread().name)
            return original(*args)

        c._post = spy  # type: ignore[method-assign]
        self.log(c, 10, start=10)
        self.assertEqual(posts, [])  # nothing sent from log() itself…
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(set(posts), {"driftwatch-sender"})  # …all of it from the sender

    def test_retries_a_503_after_its_retry_after(self) -> None:
        self.server.script = [(503, {"Retry-After": "7"}, b'{"error":{"code":"unavailable"}}')]
        c = self.client(cls=PausesRecorded)
        self.log(c, 5)
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(c.pauses, [7.0])
        self.assertEqual(sorted(self.server.stored), [("churn", f"r{i}") for i in range(5)])
        self.assertEqual(len(self.server.requests), 2)

    def test_retry_after_as_an_http_date_and_capped(self) -> None:
        self.server.script = [
            (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b""),  # in the past: at once
            (429, {"Retry-After": "86400"}, b""),  # a day: capped
        ]
        c = self.client(cls=PausesRecorded)
        self.log(c, 1)
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(c.pauses, [0.0, Client.RETRY_AFTER_MAX])

    def test_backs_off_exponentially_on_5xx_and_connection_errors(self) -> None:
        self.server.script = [(500, {}, b"boom"), "drop", (502, {}, b""), "drop"]
        c = self.client(cls=PausesRecorded)
        self.log(c, 2)
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(len(c.pauses), 4)
        for attempt, pause in enumerate(c.pauses):
            ceiling = min(Client.BACKOFF_MAX, Client.BACKOFF_INITIAL * 2**attempt)
            self.assertGreaterEqual(pause, ceiling / 2)
            self.assertLessEqual(pause, ceiling)
        self.assertEqual(len(self.server.stored), 2)

    def test_a_batch_stored_but_not_answered_is_resent_and_counted_as_duplicates(self) -> None:
        # The service commits, then the connection dies before the answer: the re-sent batch is a duplicate.
        self.server.script = [lambda items: (self.server.store(items), "drop")[1]]
        c = self.client(cls=PausesRecorded)
        self.log(c, 4)
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(len(self.server.stored), 4)
        self.assertEqual((c.accepted, c.duplicates), (0, 4))

    def test_holds_records_while_the_service_is_down_and_delivers_them_when_it_is_back(self) -> None:
        port = free_port()
        c = Client(f"http://127.0.0.1:{port}", flush_interval=0.01)
        self.clients.append(c)
        attempts = threading.Event()
        original = c._pause

        def pause(seconds: float) -> None:
            attempts.set()  # at least one connection was refused
            original(min(seconds, 0.05))

        c._pause = pause  # type: ignore[method-assign]
        self.log(c, 50)
        self.assertTrue(attempts.wait(20))
        self.assertEqual(c.queued, 50)
        later = FakeDriftwatch(port)
        try:
            self.assertTrue(c.flush(timeout=20))
            self.assertEqual(sorted(later.stored), sorted(("churn", f"r{i}") for i in range(50)))
        finally:
            later.close()

    def test_a_full_queue_drops_the_newest_without_blocking(self) -> None:
        arrived, release = threading.Event(), threading.Event()

        def stall(items: list):
            arrived.set()
            release.wait(30)
            return self.server.store

        self.server.script = [stall]
        c = self.client(max_queue=10, batch_size=4, flush_interval=0.01)
        self.assertTrue(c.log("churn", "r0", {"age": 0}))
        self.assertTrue(arrived.wait(20))
        # The first batch is in flight on a service that does not answer; the rest only queue.
        self.log(c, 9, start=1)
        results = [c.log("churn", f"r{i}", {"age": i}) for i in range(10, 15)]
        self.assertEqual(results, [False] * 5)
        self.assertEqual(c.dropped, 5)
        self.assertEqual(c.queued, 10)
        release.set()
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(sorted(k[1] for k in self.server.stored), sorted(f"r{i}" for i in range(10)))

    def test_splits_a_batch_over_the_body_limit(self) -> None:
        self.server.script = [lambda items: (413, {}, b"too large") if len(items) > 2 else self.server.store]
        self.server.script *= 3
        c = self.client(batch_size=8)
        self.log(c, 8)
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(sorted(k[1] for k in self.server.stored), sorted(f"r{i}" for i in range(8)))

    def test_a_batch_the_service_cannot_read_is_dropped_and_counted(self) -> None:
        self.server.script = [(400, {}, b'{"error":{"code":"invalid_body"}}')]
        c = self.client()
        with self.assertLogs("driftwatch", "ERROR") as logs:
            self.log(c, 3)
            self.assertTrue(c.flush(timeout=20))
        self.assertIn("answered 400", logs.output[0])
        self.assertEqual(c.rejected, 3)
        self.log(c, 1, start=3)
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(list(self.server.stored), [("churn", "r3")])

    def test_counts_records_the_service_rejected(self) -> None:
        body = b'{"accepted":1,"duplicates":0,"rejected":[{"line":2,"errors":[]}]}'
        self.server.script = [(207, {}, body)]
        c = self.client()
        with self.assertLogs("driftwatch", "WARNING"):
            self.log(c, 2)
            self.assertTrue(c.flush(timeout=20))
        self.assertEqual((c.accepted, c.rejected), (1, 1))

    def test_labels_follow_their_records_in_order(self) -> None:
        c = self.client()
        self.log(c, 2)
        c.log_label("churn", "r0", 1)
        c.log_label("churn", "r1", None)
        self.log(c, 1, start=2)
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual([r.path for r in self.server.requests], ["/v1/ingest", "/v1/labels", "/v1/ingest"])
        labels = self.server.requests[1]
        self.assertEqual(labels.headers["Content-Type"], "application/json")
        self.assertEqual(
            labels.items,
            [{"model": "churn", "request_id": "r0", "label": 1}, {"model": "churn", "request_id": "r1", "label": None}],
        )

    def test_close_sends_what_is_queued_and_later_logs_are_dropped(self) -> None:
        with Client(self.server.url, flush_interval=3600) as c:
            self.log(c, 7)
        self.assertEqual(len(self.server.stored), 7)
        self.assertFalse(c.log("churn", "late", {}))
        self.assertEqual(c.dropped, 1)

    def test_close_gives_up_after_its_timeout_when_the_service_stays_down(self) -> None:
        c = Client(f"http://127.0.0.1:{free_port()}")
        with self.assertLogs("driftwatch", "ERROR"):
            self.log(c, 3)
            self.assertFalse(c.close(timeout=0.2))
        self.assertEqual(c.abandoned, 3)
        self.assertTrue(c.flush(timeout=20))  # nothing left to wait for

    def test_sends_what_is_queued_at_interpreter_exit(self) -> None:
        script = (
            "import sys; from driftwatch import Client\n"
            f"c = Client({self.server.url!r}, flush_interval=3600)\n"
            "c.log('churn', 'at-exit', {'age': 1})\n"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)
        self.assertEqual(list(self.server.stored), [("churn", "at-exit")])

    def test_non_finite_numbers_are_sent_as_null(self) -> None:
        c = self.client()
        c.log("churn", "nan", {"age": math.nan, "score": math.inf, "ok": 1.5})
        self.assertTrue(c.flush(timeout=20))
        self.assertEqual(self.server.stored[("churn", "nan")]["features"], {"age": None, "score": None, "ok": 1.5})

    def test_bad_arguments_name_the_argument(self) -> None:
        c = self.client()
        cases = [
            (lambda: c.log(1, "r", {}), "model"),
            (lambda: c.log("m", "", {}), "request_id"),
            (lambda: c.log("m", "r", [1, 2]), "features"),
            (lambda: c.log("m", "r", {}, status="fine"), "status"),
            (lambda: c.log("m", "r", {}, latency_ms=-1), "latency_ms"),
            (lambda: c.log("m", "r", {}, timestamp=object()), "timestamp"),
            (lambda: Client("localhost:8080"), "url"),
            (lambda: Client("http://x", max_queue=0), "max_queue"),
            (lambda: Client("http://x", flush_interval=0), "flush_interval"),
        ]
        for call, name in cases:
            with self.assertRaises((TypeError, ValueError)) as caught:
                call()
            self.assertTrue(str(caught.exception).startswith(f"{name}:"), str(caught.exception))


if __name__ == "__main__":
    unittest.main()
