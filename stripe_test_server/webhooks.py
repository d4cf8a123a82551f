"""Webhook delivery: signed like Stripe, sent by a background thread, retried with backoff.

`flush()` delivers everything pending at once (retrying immediately instead of waiting
out the backoff) and waits for any attempt the thread has in flight, so a test can ask
"has it arrived?" without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header: HMAC-SHA256 of "<t>.<body>" keyed by the endpoint secret."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    event_id: str
    endpoint_id: str
    url: str
    secret: str
    payload: bytes
    attempts: int = 0
    next_at: float = 0.0


class WebhookDeliverer:
    def __init__(
        self,
        *,
        max_attempts: int = 4,
        backoff: tuple[float, ...] = (0.5, 1.0, 2.0),
        timeout: float = 5.0,
        on_result: Callable[[Delivery, bool], None] | None = None,
    ):
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.on_result = on_result or (lambda delivery, delivered: None)
        self.counts: Counter = Counter()
        self.recent: deque = deque(maxlen=200)
        self._cond = threading.Condition()
        self._pending: list[Delivery] = []
        self._in_flight = 0
        self._stopped = False
        # Deliveries go to local receivers; an http_proxy in the environment must not
        # swallow them.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._thread = threading.Thread(target=self._run, name="stripe-webhooks", daemon=True)
        self._thread.start()

    def enqueue(self, delivery: Delivery) -> None:
        with self._cond:
            self._pending.append(delivery)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._pending.clear()
            self.counts.clear()
            self.recent.clear()

    def pending_count(self) -> int:
        with self._cond:
            return len(self._pending) + self._in_flight

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=self.timeout + 1)

    def flush(self) -> dict:
        """Deliver every pending delivery now, then report the totals since the last reset:
        {"delivered", "failed", "attempts", "pending"} (pending is 0 once flushed)."""
        while True:
            with self._cond:
                while self._in_flight:
                    self._cond.wait()
                if not self._pending:
                    return {
                        "delivered": self.counts["delivered"],
                        "failed": self.counts["failed"],
                        "attempts": self.counts["attempts"],
                        "pending": 0,
                    }
                batch, self._pending = self._pending, []
                self._in_flight += len(batch)
            for delivery in batch:
                ok = self._attempt(delivery)
                while not ok and delivery.attempts < self.max_attempts:
                    ok = self._attempt(delivery)
                self._finish(delivery, ok)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    due = [d for d in self._pending if d.next_at <= now]
                    if due:
                        break
                    wait = min((d.next_at for d in self._pending), default=now + 60) - now
                    self._cond.wait(timeout=max(wait, 0.01))
                delivery = due[0]
                self._pending.remove(delivery)
                self._in_flight += 1
            self._finish(delivery, self._attempt(delivery))

    def _finish(self, delivery: Delivery, ok: bool) -> None:
        settled = ok or delivery.attempts >= self.max_attempts
        with self._cond:
            self._in_flight -= 1
            if settled:
                self.counts["delivered" if ok else "failed"] += 1
            else:
                step = self.backoff[min(delivery.attempts - 1, len(self.backoff) - 1)]
                delivery.next_at = time.monotonic() + step
                self._pending.append(delivery)
            self._cond.notify_all()
        if settled:
            # Outside the condition: the callback takes the state lock, and a request
            # thread holding that lock may be waiting to enqueue.
            self.on_result(delivery, ok)

    def _attempt(self, delivery: Delivery) -> bool:
        delivery.attempts += 1
        request = urllib.request.Request(
            delivery.url,
            data=delivery.payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(delivery.payload, delivery.secret, int(time.time())),
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (OSError, ValueError):
            status = None
        with self._cond:
            self.counts["attempts"] += 1
            self.recent.append(
                {
                    "event": delivery.event_id,
                    "endpoint": delivery.endpoint_id,
                    "url": delivery.url,
                    "attempt": delivery.attempts,
                    "status": status,
                }
            )
        return status is not None and 200 <= status < 300
