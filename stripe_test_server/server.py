"""The HTTP side: authentication, idempotency, fault injection, the hosted invoice page and
the /_test/ controls, around the Stripe API held in `api.StripeState`."""

from __future__ import annotations

import contextlib
import html
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import fixtures
from .api import RequestContext, StripeState, new_id
from .checkout import Hosted, checkout_page, portal_page
from .currencies import format_amount
from .errors import StripeError
from .forms import parse_form
from .html import page as _page
from .webhooks import WebhookDeliverer

logger = logging.getLogger(__name__)

# error: a 500 before any work; error_after: the work done, then a 500; timeout: the work
# done, the answer held past the client's timeout; drop: the work done, no answer at all.
FAULT_MODES = ("error", "error_after", "timeout", "drop")
# How long Stripe replays the answer kept for an idempotency key.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IDEMPOTENCY_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than '{key}' if you meant to execute a different request."
)
# Test-mode secret keys and restricted keys; each key is its own account.
API_KEY_PREFIXES = ("sk_test_", "rk_test_")


class Faults:
    """Which API requests fail and how, drawn from a seeded random source so a test that
    sets `seed` sees the same requests fail on every run."""

    def __init__(self, default_hold_seconds: float = 15.0):
        self.default_hold_seconds = default_hold_seconds
        self._lock = threading.Lock()
        self.injected: Counter = Counter()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.mode: str | None = None
            self.rate = 0.0
            # Several kinds at once, each with its own share of requests: {mode: rate}.
            self.mix: dict[str, float] = {}
            self.paths: list[str] = []
            self.methods: list[str] = []
            self.seed: int | None = None
            self.hold_seconds = self.default_hold_seconds
            self._random = random.Random()

    def configure(self, spec) -> None:
        if not isinstance(spec, dict):
            raise StripeError(
                400, "Send a JSON object: {mode, rate | mix, paths, seed, hold_seconds}."
            )
        unknown = set(spec) - {"mode", "rate", "mix", "paths", "methods", "seed", "hold_seconds"}
        if unknown:
            raise StripeError(400, f"Unknown fault setting(s): {', '.join(sorted(unknown))}")
        if "mix" in spec:
            if "mode" in spec or "rate" in spec:
                raise StripeError(400, "Give either mode and rate, or mix.", param="mix")
            mix = spec["mix"]
            if not isinstance(mix, dict) or not mix or set(mix) - set(FAULT_MODES):
                raise StripeError(
                    400, f"mix maps modes ({', '.join(FAULT_MODES)}) to rates", param="mix"
                )
            for value in mix.values():
                _check_rate(value, "mix")
            if sum(mix.values()) > 1:
                raise StripeError(400, "The rates of mix add up to more than 1.0", param="mix")
            mode, rate = "mix", float(sum(mix.values()))
        else:
            mode = spec.get("mode")
            if mode not in FAULT_MODES:
                raise StripeError(
                    400, f"mode must be one of {', '.join(FAULT_MODES)}", param="mode"
                )
            rate = _check_rate(spec.get("rate", 1.0), "rate")
            mix = {mode: rate}
        paths = spec.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise StripeError(400, "paths must be a list of path prefixes", param="paths")
        methods = spec.get("methods") or []
        if not isinstance(methods, list) or not set(methods) <= {"GET", "POST", "DELETE"}:
            raise StripeError(
                400, "methods must be a list of GET, POST and DELETE", param="methods"
            )
        seed = spec.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise StripeError(400, "seed must be an integer", param="seed")
        hold = spec.get("hold_seconds", self.default_hold_seconds)
        if not isinstance(hold, int | float) or isinstance(hold, bool) or hold < 0:
            raise StripeError(400, "hold_seconds must be a number of seconds", param="hold_seconds")
        with self._lock:
            self.mode, self.rate, self.paths, self.seed = mode, float(rate), paths, seed
            self.methods = methods
            self.mix = {kind: float(share) for kind, share in mix.items()}
            self.hold_seconds = float(hold)
            self._random = random.Random(seed)

    def describe(self) -> dict:
        with self._lock:
            return {
                "mode": self.mode,
                "rate": self.rate,
                "mix": dict(self.mix),
                "paths": list(self.paths),
                "methods": list(self.methods),
                "seed": self.seed,
                "hold_seconds": self.hold_seconds,
            }

    def pick(self, method: str, path: str) -> str | None:
        """The fault to inject into this API request, if any."""
        with self._lock:
            if self.mode is None:
                return None
            if self.paths and not any(path.startswith(prefix) for prefix in self.paths):
                return None
            if self.methods and method not in self.methods:
                return None
            draw = self._random.random()
            for kind, share in self.mix.items():
                if draw < share:
                    self.injected[kind] += 1
                    return kind
                draw -= share
            return None


def _check_rate(value, param: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise StripeError(400, f"{param}: a rate is a number from 0.0 to 1.0", param=param)
    return float(value)


@dataclass
class _Stored:
    """A response kept for an idempotency key, with what the first request asked."""

    method: str
    path: str
    params: dict
    status: int
    body: dict
    request_id: str
    stored_at: float = 0.0

    def expired(self) -> bool:
        return time.time() - self.stored_at > IDEMPOTENCY_TTL_SECONDS


class StripeTestServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 12111,
        *,
        public_url: str | None = None,
        hold_seconds: float = 15.0,
        webhook_attempts: int = 4,
        webhook_backoff: tuple[float, ...] = (0.5, 1.0, 2.0),
        forward_webhooks: tuple[str, ...] = (),
        forward_secret: str = "",
    ):
        fixtures.check_available()
        self.deliverer = WebhookDeliverer(max_attempts=webhook_attempts, backoff=webhook_backoff)
        self.state = StripeState(deliver=self.deliverer.enqueue)
        self.deliverer.on_result = self.state.delivery_settled
        self.state.forwards = [(url, forward_secret) for url in forward_webhooks]
        self.faults = Faults(hold_seconds)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.idempotency: dict[tuple, _Stored] = {}
        self.request_counts: Counter = Counter()
        self._counts_lock = threading.Lock()
        # Set on stop, so requests held by the `timeout` fault let go at once.
        self.released = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.app = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.1)

    def start(self) -> StripeTestServer:
        self._thread = threading.Thread(
            target=self.serve_forever, name="stripe-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.deliverer.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        with self.state.lock:
            self.state.reset()
            self.idempotency.clear()
        self.faults.clear()
        self.faults.injected.clear()
        self.deliverer.clear()
        with self._counts_lock:
            self.request_counts.clear()

    def count(self, method: str, path: str) -> None:
        with self._counts_lock:
            self.request_counts[f"{method} {path}"] += 1

    def stats(self) -> dict:
        with self._counts_lock:
            requests = dict(self.request_counts)
        return {
            "requests": requests,
            "faults": {"config": self.faults.describe(), "injected": dict(self.faults.injected)},
            "webhooks": {
                **dict(self.deliverer.counts),
                "pending": self.deliverer.pending_count(),
                "recent": list(self.deliverer.recent),
            },
        }

    def handle_api(self, method: str, path: str, params: dict, headers, public_url: str):
        """Answer one API request: (status, body, extra headers, fault to apply after)."""
        api_key = _api_key(headers.get("Authorization"))
        account = (api_key, headers.get("Stripe-Account") or None)
        fault = self.faults.pick(method, path)
        key = headers.get("Idempotency-Key") if method == "POST" else None
        request_id = new_id("req")
        extra = {"Request-Id": request_id}
        if key:
            extra["Idempotency-Key"] = key
        ctx = RequestContext(account, request_id, key, public_url)
        with self.state.lock:
            stored = self.idempotency.get((account, key)) if key else None
            if stored is not None and stored.expired():
                stored = None
            if stored is not None:
                if (stored.method, stored.path, stored.params) != (method, path, params):
                    raise StripeError(
                        400, IDEMPOTENCY_MISMATCH.format(key=key), type="idempotency_error"
                    )
                extra.update({"Idempotent-Replayed": "true", "Original-Request": stored.request_id})
                return stored.status, stored.body, _retry_advice(stored.status, extra), fault
            if fault == "error":
                status, body = _injected_500()
            else:
                try:
                    status = 200
                    body = self.state.dispatch(
                        method, path, params, ctx, version=headers.get("Stripe-Version")
                    )
                except StripeError as error:
                    status, body = error.status, error.body()
                if fault == "error_after":
                    status, body = _injected_500()
            # Like Stripe, keep the result once the endpoint ran, for 24 hours: successes,
            # card declines and server errors (a 500 is replayed to its key like anything
            # else), not requests rejected for their parameters.
            if key and (status < 400 or status == 402 or status >= 500):
                self.idempotency[(account, key)] = _Stored(
                    method, path, params, status, body, request_id, time.time()
                )
        return status, body, _retry_advice(status, extra), fault


def _retry_advice(status: int, extra: dict) -> dict:
    """Stripe tells its libraries not to retry a 500 under the same key: the key would
    only replay it."""
    if status >= 500 and "Idempotency-Key" in extra:
        extra["Stripe-Should-Retry"] = "false"
    return extra


def _injected_500() -> tuple[int, dict]:
    error = StripeError(
        500, "An unknown error occurred (injected by the Stripe test server).", type="api_error"
    )
    return error.status, error.body()


def _api_key(authorization: str | None) -> str:
    if not authorization:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "basic":
        import base64

        try:
            credential = base64.b64decode(credential).decode().partition(":")[0]
        except ValueError:
            credential = ""
    elif scheme.lower() != "bearer":
        credential = ""
    credential = credential.strip()
    if not credential.startswith(API_KEY_PREFIXES):
        shown = credential[:8] + "*" * max(len(credential) - 12, 0) + credential[-4:]
        raise StripeError(401, f"Invalid API Key provided: {shown}")
    return credential


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StripeTestServer/1.0"
    # Headers and body leave in one write, without Nagle's delay on a kept-alive connection.
    wbufsize = -1
    disable_nagle_algorithm = True

    @property
    def app(self) -> StripeTestServer:
        return self.server.app

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            if url.path.startswith("/_test/"):
                self._test_control(method, url.path, body)
            elif url.path.startswith("/hosted/invoices/"):
                self.app.count(method, url.path)
                self._hosted(method, url.path.removeprefix("/hosted/invoices/"), body)
            elif url.path.startswith("/hosted/checkout/"):
                self.app.count(method, url.path)
                self._hosted_checkout(method, url.path.removeprefix("/hosted/checkout/"), body)
            elif url.path.startswith("/hosted/billing_portal/"):
                self.app.count(method, url.path)
                session_id = url.path.removeprefix("/hosted/billing_portal/")
                self._hosted_portal(method, session_id, body)
            else:
                self.app.count(method, url.path)
                self._api(method, url.path, url.query, body)
        except StripeError as error:
            self._send_json(error.status, error.body())
        except Exception:
            logger.exception("Stripe test server failed on %s %s", method, self.path)
            self._send_json(
                500, {"error": {"type": "api_error", "message": "The test server failed."}}
            )

    def _public_url(self) -> str:
        return self.app.public_url or f"http://{self.headers.get('Host') or self.app.base_url}"

    def _api(self, method: str, path: str, query: str, body: str) -> None:
        params = parse_form(query)
        if method == "POST" and body:
            params.update(parse_form(body))
        status, payload, extra, fault = self.app.handle_api(
            method, path, params, self.headers, self._public_url()
        )
        if fault == "drop":
            # The work is done; the client never hears of it.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "timeout":
            self.app.released.wait(self.app.faults.hold_seconds)
            # The client has usually stopped waiting, which is the point of the fault.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send_json(status, payload, extra)
                self.wfile.flush()
            return
        self._send_json(status, payload, extra)

    def _send(self, status: int, body: bytes, content_type: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if version := self.headers.get("Stripe-Version"):
            self.send_header("Stripe-Version", version)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: dict, headers=None) -> None:
        body = json.dumps(payload, indent=2).encode()
        self._send(status, body, "application/json", headers)

    # --- /_test/ controls ----------------------------------------------------------------

    def _test_control(self, method: str, path: str, body: str) -> None:
        app = self.app
        if (method, path) == ("POST", "/_test/faults"):
            try:
                spec = json.loads(body or "{}")
            except ValueError as error:
                raise StripeError(400, f"Invalid JSON: {error}") from None
            app.faults.configure(spec)
            self._send_json(200, {"faults": app.faults.describe()})
        elif (method, path) == ("DELETE", "/_test/faults"):
            app.faults.clear()
            self._send_json(200, {"faults": app.faults.describe()})
        elif (method, path) == ("GET", "/_test/faults"):
            self._send_json(200, {"faults": app.faults.describe()})
        elif (method, path) == ("GET", "/_test/stats"):
            self._send_json(200, app.stats())
        elif (method, path) == ("POST", "/_test/reset"):
            app.reset()
            self._send_json(200, {"reset": True})
        elif (method, path) == ("POST", "/_test/deliver"):
            self._send_json(200, app.deliverer.flush())
        else:
            raise StripeError(404, f"Unknown test control: {method} {path}")

    # --- hosted invoice page ---------------------------------------------------------------

    def _hosted(self, method: str, invoice_id: str, body: str) -> None:
        if method not in ("GET", "POST"):
            raise StripeError(405, "Use GET or POST on the hosted invoice page.")
        try:
            message = None
            if method == "POST":
                card_number = dict(parse_qsl(body)).get("card_number", "")
                declined = self.app.state.hosted_pay(invoice_id, card_number, self._public_url())
                message = declined or "Payment succeeded. Thank you!"
            invoice = self.app.state.hosted_invoice(invoice_id)
        except StripeError:
            page = _page("Invoice not found", "<p>There is no invoice at this address.</p>")
            self._send(404, page, "text/html; charset=utf-8")
            return
        self._send(200, _invoice_page(invoice, message), "text/html; charset=utf-8")

    # --- hosted Checkout and customer portal pages -----------------------------------------

    def _hosted_checkout(self, method: str, session_id: str, body: str) -> None:
        if method not in ("GET", "POST"):
            raise StripeError(405, "Use GET or POST on the hosted Checkout page.")
        state, public_url = self.app.state, self._public_url()
        try:
            outcome = Hosted()
            if method == "POST":
                card_number = dict(parse_qsl(body)).get("card_number", "")
                outcome = state.hosted_checkout_submit(session_id, card_number, public_url)
                if outcome.location:
                    self._send(303, b"", "text/plain", {"Location": outcome.location})
                    return
            view = state.hosted_checkout(session_id, public_url)
        except StripeError:
            page = _page("Not found", "<p>There is no Checkout Session at this address.</p>")
            self._send(404, page, "text/html; charset=utf-8")
            return
        page = checkout_page(view, outcome.message)
        self._send(outcome.status, page, "text/html; charset=utf-8")

    def _hosted_portal(self, method: str, session_id: str, body: str) -> None:
        if method not in ("GET", "POST"):
            raise StripeError(405, "Use GET or POST on the customer portal.")
        state, public_url = self.app.state, self._public_url()
        try:
            outcome = Hosted()
            if method == "POST":
                form = dict(parse_qsl(body))
                outcome = state.hosted_portal_act(
                    session_id, form.get("action", ""), form.get("payment_method", ""), public_url
                )
            view = state.hosted_portal(session_id, public_url)
        except StripeError:
            page = _page("Not found", "<p>There is no portal session at this address.</p>")
            self._send(404, page, "text/html; charset=utf-8")
            return
        self._send(outcome.status, portal_page(view, outcome.message), "text/html; charset=utf-8")


def _invoice_page(invoice: dict, message: str | None) -> bytes:
    escape = html.escape
    currency = invoice["currency"]
    rows = "".join(
        f"<tr><td>{escape(line['description'] or '')}</td>"
        f"<td>{format_amount(line['amount'], currency)}</td></tr>"
        for line in invoice["lines"]["data"]
    )
    parts = [
        f"<h1>Invoice {escape(invoice['number'] or invoice['id'])}</h1>",
        f"<p class=message role=status>{escape(message)}</p>" if message else "",
        f"<p>{escape(invoice['customer_name'] or invoice['customer_email'] or '')}</p>",
        f"<table><tr><th>Item</th><th>Amount</th></tr>{rows}</table>",
        f"<p>Amount due: <strong data-amount-due>{format_amount(invoice['amount_due'], currency)}"
        "</strong></p>",
        f"<p>Amount remaining: <strong data-amount-remaining>"
        f"{format_amount(invoice['amount_remaining'], currency)}</strong></p>",
        f"<p>Status: <strong data-status>{escape(invoice['status'])}</strong></p>",
    ]
    if invoice["status"] in ("open", "uncollectible"):
        parts.append(
            "<form method=post>"
            "<label>Card number <input name=card_number inputmode=numeric "
            "autocomplete=cc-number placeholder='4242 4242 4242 4242' required></label> "
            f"<button type=submit>Pay {format_amount(invoice['amount_remaining'], currency)}"
            "</button>"
            "</form><p><small>Test mode: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is "
            "declined.</small></p>"
        )
    return _page(f"Invoice {invoice['number'] or invoice['id']}", "".join(parts))
