"""Stripe's form encoding: `metadata[task]=12`, `expand[0]=lines`, `expand[]=lines`.

The SDK sends nested dictionaries as bracketed keys and lists as indexed keys; both are
parsed back into nested dicts and lists so handlers read params like JSON.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from .errors import StripeError

_SUBKEY = re.compile(r"\[([^\[\]]*)\]")

# Free-form maps whose keys are the caller's own: a numeric key there is a key, not an index.
_FREE_FORM = {"metadata"}


def parse_form(text: str) -> dict:
    root: dict = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        head, bracket, rest = key.partition("[")
        parts = [head, *(_SUBKEY.findall(bracket + rest) if bracket else [])]
        if not head:
            raise StripeError(400, f"Invalid parameter name: {key!r}")
        node = root
        for position, part in enumerate(parts):
            if part == "":
                # `expand[]=a&expand[]=b`: each empty index appends.
                part = str(len(node))
            if position == len(parts) - 1:
                node[part] = value
                continue
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeError(400, f"Invalid value for {head}: conflicting keys", param=head)
            node = child
    return _listify(root)


def _listify(node, key: str | None = None):
    if not isinstance(node, dict):
        return node
    node = {name: _listify(value, name) for name, value in node.items()}
    if key not in _FREE_FORM and node and all(name.isdigit() for name in node):
        return [node[name] for name in sorted(node, key=int)]
    return node
