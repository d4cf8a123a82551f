"""python -m stripe_test_server [--host 127.0.0.1] [--port 12111]"""

import argparse
import logging

from .server import StripeTestServer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_test_server",
        description="Serve Stripe's API for the endpoints the product uses, in memory.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
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
    parser.add_argument("--verbose", action="store_true", help="Log every request.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    server = StripeTestServer(
        args.host, args.port, public_url=args.public_url, hold_seconds=args.hold_seconds
    )
    print(f"Stripe test server listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
