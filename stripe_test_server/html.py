"""The frame of the server's hosted pages (invoice, Checkout, customer portal)."""

from __future__ import annotations

import html


def page(title: str, content: str) -> bytes:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
        "td,th{padding:.2em .6em;text-align:left}.message{padding:.6em;border:1px solid}"
        "</style></head><body>"
        f"{content}</body></html>"
    ).encode()
