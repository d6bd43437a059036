"""The driftwatch client: log() appends to a bounded queue; a background thread sends batches."""

from __future__ import annotations

import atexit
import datetime as _dt
import decimal
import gzip
import http.client
import json
import logging
import math
import os
import random
import threading
import time
import urllib.parse
import weakref
from collections import deque
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Deque, List, Optional, Tuple

__all__ = ["Client"]

log = logging.getLogger("driftwatch")

_RECORD = "record"
_LABEL = "label"
_RETRYABLE_4XX = {401, 403, 408, 429}
_USER_AGENT = "driftwatch-python/0.1.0"


class Client:
    """Sends prediction records and labels to driftwatch (POST /v1/ingest, POST /v1/labels).

    log() and log_label() only validate, encode and append to an in-memory queue of at most max_queue
    items: they never wait on the network. A full queue drops the newest item and counts it in
    ``dropped``. A daemon thread sends up to batch_size items at a time, at least every flush_interval
    seconds, and retries a batch (connection errors, 408, 429, 5xx; 401/403 too, so a token being rotated
    loses nothing) with exponential backoff, or after Retry-After when the service says so. Ingest is
    idempotent by (model, request_id), so a batch re-sent after a lost answer stores nothing twice.
    """

    #: First retry delay in seconds; doubled per attempt up to BACKOFF_MAX (with jitter).
    BACKOFF_INITIAL = 0.1
    BACKOFF_MAX = 10.0
    #: A Retry-After above this many seconds is capped: a misconfigured proxy must not park the queue.
    RETRY_AFTER_MAX = 60.0
    #: How long close() at interpreter exit waits for the queue to drain.
    EXIT_TIMEOUT = 10.0

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        timeout: float = 5.0,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: expected http(s)://host[:port][/prefix], got {url!r}")
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ValueError("token: expected a non-empty string or None")
        _positive_int("batch_size", batch_size)
        _positive_int("max_queue", max_queue)
        _positive_number("flush_interval", flush_interval)
        _positive_number("timeout", timeout)
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._batch_size = batch_size
        self._flush_interval = float(flush_interval)
        self._max_queue = max_queue
        self._timeout = float(timeout)

        #: Items refused because the queue was full (or the client closed).
        self.dropped = 0
        #: Records the service stored, records it had already (re-sent after a lost answer), records it
        #: rejected (it keeps them, with reasons, in GET /v1/ingest/rejections).
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        #: Labels applied (updated or unchanged) and labels whose record the service did not have.
        self.labels_applied = 0
        self.labels_not_found = 0
        #: Items still queued when close() gave up waiting (the service stayed unreachable).
        self.abandoned = 0
        #: HTTP requests made (every attempt, retries included) — all of them on the sender thread.
        self.requests = 0

        self._reset_state()
        # Only a weak reference: the atexit and fork hooks must not keep an unused client alive.
        ref = weakref.ref(self)
        self._atexit_hook = lambda: _call(ref, "_at_exit")
        atexit.register(self._atexit_hook)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: _call(ref, "_reset_state"))

    def _reset_state(self) -> None:
        # Also run in a forked child: the parent's thread does not exist there, and its queue belongs to
        # the parent (which still sends it).
        self._cond = threading.Condition(threading.Lock())
        self._queue: Deque[Tuple[str, Any]] = deque()
        self._in_flight = 0
        self._enqueued = 0
        self._resolved = 0
        self._flush_waiters = 0
        self._closed = False
        self._stop = False
        self._thread: Optional[threading.Thread] = None
        self._conn: Optional[http.client.HTTPConnection] = None
        self._warned_full = False

    # --- the caller's side -------------------------------------------------------------------------

    def log(
        self,
        model: str,
        request_id: str,
        features: Mapping,
        prediction: Any = None,
        model_version: Optional[str] = None,
        label: Any = None,
        latency_ms: Optional[float] = None,
        status: Optional[str] = None,
        timestamp: Any = None,
        tags: Optional[Mapping] = None,
        error: Optional[str] = None,
    ) -> bool:
        """Queues one record; returns False when it was dropped because the queue is full.

        timestamp defaults to now (epoch milliseconds), so a record held through an outage keeps the time
        of its prediction. Arguments of the wrong type raise TypeError/ValueError naming the argument.
        """
        record = {
            "model": _string("model", model),
            "request_id": _string("request_id", request_id),
            "timestamp": _timestamp(timestamp),
            "features": _mapping("features", features),
        }
        if prediction is not None:
            record["prediction"] = prediction
        if model_version is not None:
            record["model_version"] = _string("model_version", model_version)
        if label is not None:
            record["label"] = label
        if latency_ms is not None:
            if isinstance(latency_ms, bool) or not isinstance(latency_ms, (int, float)) or latency_ms < 0:
                raise ValueError(f"latency_ms: expected a number >= 0, got {latency_ms!r}")
            record["latency_ms"] = latency_ms
        if status is not None:
            if status not in ("ok", "error"):
                raise ValueError(f'status: expected "ok" or "error", got {status!r}')
            record["status"] = status
        if error is not None:
            record["error"] = str(error)
        if tags is not None:
            record["tags"] = {str(k): str(v) for k, v in _mapping("tags", tags).items()}
        return self._enqueue(_RECORD, _encode(record))

    def log_label(self, model: str, request_id: str, label: Any) -> bool:
        """Queues a ground-truth label for a record logged earlier (sent after it, in order)."""
        item = {"model": _string("model", model), "request_id": _string("request_id", request_id)}
        item["label"] = label
        return self._enqueue(_LABEL, _encode(item))

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits until everything queued so far was delivered; False if timeout (seconds) ran out first."""
        with self._cond:
            target = self._enqueued
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._resolved >= target, timeout)
            finally:
                self._flush_waiters -= 1

    def close(self, timeout: Optional[float] = 30.0) -> bool:
        """Sends what is queued (waiting up to timeout seconds), then stops the sender thread.

        Items still queued after that are counted in ``abandoned`` and logged; returns True if none were.
        Later log() calls are dropped (counted in ``dropped``).
        """
        with self._cond:
            already = self._closed
            self._closed = True
        if already:
            return self.abandoned == 0
        atexit.unregister(self._atexit_hook)
        delivered = self.flush(timeout)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # A request in progress ends within the socket timeout; the thread is a daemon either way.
            thread.join(self._timeout + 1)
        with self._cond:
            left = len(self._queue) + self._in_flight
            self._queue.clear()
            self.abandoned += left
            # Nothing is pending any more: a later flush() returns at once instead of waiting forever.
            self._resolved = self._enqueued
            self._cond.notify_all()
        if left:
            log.error("driftwatch client closed with %d items not delivered to %s", left, self.url)
        self._disconnect()
        return delivered and left == 0

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def queued(self) -> int:
        """Items held: queued plus the batch being sent."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def _at_exit(self) -> None:
        self.close(self.EXIT_TIMEOUT)

    def _enqueue(self, kind: str, payload: bytes) -> bool:
        with self._cond:
            # The batch being sent counts too: the client never holds more than max_queue items.
            if self._closed or len(self._queue) + self._in_flight >= self._max_queue:
                self.dropped += 1
                if not self._warned_full:
                    self._warned_full = True
                    why = "client closed" if self._closed else f"queue full ({self._max_queue} items)"
                    log.warning("driftwatch: %s, dropping new records (see client.dropped)", why)
                return False
            self._queue.append((kind, payload))
            self._enqueued += 1
            if len(self._queue) == 1 or len(self._queue) >= self._batch_size:
                self._cond.notify_all()
            if self._thread is None:
                # Started on first use, so a client created before a fork gets its thread in the child.
                self._thread = threading.Thread(target=self._run, name="driftwatch-sender", daemon=True)
                self._thread.start()
            return True

    # --- the sender thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                # A batch leaves when full, when asked (flush, close), or flush_interval after the first
                # item of a partial batch arrived.
                deadline: Optional[float] = None
                while not self._stop:
                    if not self._queue:
                        deadline = None
                        self._cond.wait()
                        continue
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + self._flush_interval
                    if len(self._queue) >= self._batch_size or self._flush_waiters or self._closed or now >= deadline:
                        break
                    self._cond.wait(deadline - now)
                if self._stop:
                    return
                kind = self._queue[0][0]
                batch: List[bytes] = []
                while self._queue and len(batch) < self._batch_size and self._queue[0][0] == kind:
                    batch.append(self._queue.popleft()[1])
                self._in_flight = len(batch)
                if self._warned_full and len(self._queue) < self._max_queue:
                    self._warned_full = False
            try:
                if not self._deliver(kind, batch):
                    return  # stopped by close(): the batch stays in flight, counted as abandoned
            except Exception:  # never let the thread die: that would stop delivery for good
                log.exception("driftwatch: unexpected error sending a batch of %d; it is dropped", len(batch))
            with self._cond:
                self._in_flight = 0
                self._resolved += len(batch)
                self._cond.notify_all()

    def _deliver(self, kind: str, batch: List[bytes]) -> bool:
        """Sends one batch until the service answers for it; False if the client stopped first."""
        if kind == _RECORD:
            path, content_type, body = "/v1/ingest", "application/x-ndjson", b"\n".join(batch)
        else:
            path, content_type, body = "/v1/labels", "application/json", b"[" + b",".join(batch) + b"]"
        compressed = gzip.compress(body, compresslevel=6)
        attempt = 0
        while True:
            with self._cond:
                if self._stop:
                    return False
            delay: Optional[float] = None
            try:
                status, retry_after, answer = self._post(path, content_type, compressed)
            except (OSError, http.client.HTTPException) as err:
                self._disconnect()
                log.warning("driftwatch: sending %d %ss failed (%s); retrying", len(batch), kind, err)
            else:
                if status < 300 or status == 422 and kind == _RECORD:
                    self._count(kind, answer)
                    return True
                if status == 413 and len(batch) > 1:
                    # Over the service's body limit: send each half on its own.
                    half = len(batch) // 2
                    return self._deliver(kind, batch[:half]) and self._deliver(kind, batch[half:])
                if status in _RETRYABLE_4XX or status >= 500:
                    delay = retry_after
                    log.warning("driftwatch: %s answered %d%s; retrying", path, status, _detail(answer))
                else:
                    # 400, 413 for a single record, 415…: sending it again cannot succeed.
                    self.rejected += len(batch) if kind == _RECORD else 0
                    log.error(
                        "driftwatch: %s answered %d for %d %ss, which are dropped%s",
                        path,
                        status,
                        len(batch),
                        kind,
                        _detail(answer),
                    )
                    return True
            if delay is None:
                delay = min(self.BACKOFF_MAX, self.BACKOFF_INITIAL * 2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            self._pause(min(delay, self.RETRY_AFTER_MAX))

    def _pause(self, seconds: float) -> None:
        """Waits before a retry; close() cuts the wait short."""
        with self._cond:
            self._cond.wait_for(lambda: self._stop, seconds)

    def _post(self, path: str, content_type: str, body: bytes) -> Tuple[int, Optional[float], bytes]:
        self.requests += 1
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        headers = {
            "Content-Type": content_type,
            "Content-Encoding": "gzip",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        self._conn.request("POST", self._prefix + path, body=body, headers=headers)
        response = self._conn.getresponse()
        answer = response.read()
        if response.will_close:
            self._disconnect()
        return response.status, _retry_after(response.getheader("Retry-After")), answer

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _count(self, kind: str, answer: bytes) -> None:
        try:
            result = json.loads(answer)
        except ValueError:
            return
        if not isinstance(result, dict):
            return
        if kind == _RECORD:
            self.accepted += int(result.get("accepted", 0))
            self.duplicates += int(result.get("duplicates", 0))
            rejected = result.get("rejected") or []
            self.rejected += len(rejected)
            if rejected:
                log.warning(
                    "driftwatch rejected %d records (kept in GET /v1/ingest/rejections); first: %s",
                    len(rejected),
                    json.dumps(rejected[0])[:500],
                )
        else:
            self.labels_applied += int(result.get("updated", 0)) + int(result.get("unchanged", 0))
            self.labels_not_found += len(result.get("not_found") or [])


def _call(ref: "weakref.ref[Client]", method: str) -> None:
    client = ref()
    if client is not None:
        getattr(client, method)()


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")


def _positive_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")


def _string(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name}: expected a non-empty string, got {value!r}")
    return value


def _mapping(name: str, value: object) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a mapping (dict), got {type(value).__name__}")
    return value


def _timestamp(value: object) -> object:
    if value is None:
        return int(time.time() * 1000)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp: a datetime needs a timezone (e.g. datetime.now(timezone.utc))")
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"timestamp: expected epoch milliseconds, an RFC 3339 string or a datetime, got {value!r}")
    return value


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, dates and decimals: what model code usually hands over.
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent as JSON")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _encode(item: dict) -> bytes:
    try:
        text = json.dumps(item, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)
    except ValueError:
        # NaN/Infinity are not JSON: send them as null (a missing value) rather than lose the record.
        plain = json.loads(json.dumps(item, default=_json_default))
        text = json.dumps(_finite(plain), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


def _detail(answer: bytes) -> str:
    text = answer[:300].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""
