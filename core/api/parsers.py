"""JSON bodies of bounded depth: a body nested past the bound is a 400 with the error
body, never a RecursionError deep in the decoder (a 500).

Their size is bounded before they are parsed: DRF reads a JSON or form body through
`request.body`, which refuses one past DATA_UPLOAD_MAX_MEMORY_SIZE (core.api.errors makes
that refusal a 400 too).
"""

import json

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

# Nothing we read nests anywhere near this deep (a Stripe event is under a dozen levels).
MAX_JSON_DEPTH = 32


class TooDeep(ValueError):
    pass


def json_depth(value) -> int:
    """How deeply containers nest in a decoded JSON value (a scalar is 0), counted without
    recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, **kwargs):
    """json.loads, but a value nested deeper than `max_depth` is a ValueError (TooDeep),
    like any other JSON that will not do."""
    refused = TooDeep(f"it nests deeper than {max_depth} levels")
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise refused from None
    if json_depth(value) > max_depth:
        raise refused
    return value


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        try:
            return loads_bounded(text, parse_constant=strict_constant if self.strict else None)
        except TooDeep as error:
            raise ParseError(f"The JSON body is refused: {error}.", code="body_too_deep") from None
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
