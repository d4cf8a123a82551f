"""python -m stripe_test_server [--host 127.0.0.1] [--port 12111]
                                [--webhook URL ... --webhook-secret whsec_...]

The port is, in order: --port, the STRIPE_TEST_SERVER_PORT environment variable, 12111.
Each --webhook URL receives every event of every account, signed with --webhook-secret
(default: the STRIPE_WEBHOOK_SECRET environment variable), as a registered endpoint would.
"""

import argparse
import logging
import os

from .server import StripeTestServer

DEFAULT_PORT = 12111
PORT_VARIABLE = "STRIPE_TEST_SERVER_PORT"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 0 to 65535, not {port}")
    return port


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_test_server",
        description="Serve Stripe's API for the endpoints the product uses, in memory.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=_port,
        help=f"Port to listen on (default: ${PORT_VARIABLE}, else {DEFAULT_PORT}; "
        "0 picks a free one).",
    )
    parser.add_argument(
        "--public-url",
        help="Base URL clients reach this server at, used in hosted_invoice_url "
        "(default: the Host header of the request).",
    )
    parser.add_argument(
        "--hold-seconds",
        type=float,
        default=15.0,
        help="How long the `timeout` fault holds a response (default 15).",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="Send every event of every account to this URL too (repeatable).",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET", ""),
        help="Signing secret of the --webhook deliveries (default: $STRIPE_WEBHOOK_SECRET).",
    )
    parser.add_argument("--verbose", action="store_true", help="Log every request.")
    args = parser.parse_args(argv)
    port = args.port
    if port is None:
        from_environment = os.environ.get(PORT_VARIABLE, "").strip()
        try:
            port = _port(from_environment) if from_environment else DEFAULT_PORT
        except argparse.ArgumentTypeError as error:
            parser.error(f"{PORT_VARIABLE}: {error}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    if args.webhook and not args.webhook_secret.startswith("whsec_"):
        parser.error("--webhook needs --webhook-secret whsec_... (or $STRIPE_WEBHOOK_SECRET)")
    server = StripeTestServer(
        args.host,
        port,
        public_url=args.public_url,
        hold_seconds=args.hold_seconds,
        forward_webhooks=tuple(args.webhook),
        forward_secret=args.webhook_secret,
    )
    print(f"Stripe test server listening on {server.base_url}", flush=True)
    for url in args.webhook:
        print(f"  sending every event to {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
