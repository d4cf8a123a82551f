"""Reading the form parameters of a request as Stripe does, with Stripe's messages for
what is missing or malformed, and Stripe-shaped ids."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Callable

from .currencies import check_currency
from .errors import bad_param

_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _now() -> int:
    return int(time.time())


# --- parameters -------------------------------------------------------------------------


def _known(params: dict, *allowed: str) -> None:
    for name in params:
        if name not in allowed and name != "expand":
            raise bad_param(name, f"Received unknown parameter: {name}")


def _str(params: dict, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise bad_param(name, f"Missing required param: {name}.", "parameter_missing")
        return None
    if not isinstance(value, str):
        raise bad_param(name, f"Invalid string: {value!r}")
    return value


def _int(params: dict, name: str, *, required: bool = False, minimum: int | None = None):
    value = _str(params, name, required=required)
    if value is None:
        return None
    if not re.fullmatch(r"-?\d+", value):
        raise bad_param(name, f"Invalid integer: {value}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise bad_param(name, f"Invalid {name}: must be at least {minimum}")
    return number


def _bool(params: dict, name: str) -> bool | None:
    value = _str(params, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise bad_param(name, f"Invalid boolean: {value}")
    return value == "true"


def _choice(params: dict, name: str, choices: tuple[str, ...], default: str | None = None):
    value = _str(params, name)
    if value is None:
        return default
    if value not in choices:
        raise bad_param(
            name, f"Invalid {name}: must be one of {', '.join(choices)}", "parameter_invalid_string"
        )
    return value


def _currency(params: dict, name: str = "currency") -> str | None:
    """A currency Stripe charges in, lowercased; any other code is refused as Stripe does."""
    value = _str(params, name)
    if value is None:
        return None
    return check_currency(value, name)


def _dict(params: dict, name: str) -> dict | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise bad_param(name, f"Invalid object: {name} must be a hash")
    return value


def _created(params: dict) -> Callable[[dict], bool]:
    """A list's `created` filter: a timestamp, or a hash of gt / gte / lt / lte."""
    value = params.get("created")
    if value is None or value == "":
        return lambda obj: True
    if isinstance(value, str):
        exact = _int(params, "created")
        return lambda obj: obj["created"] == exact
    if not isinstance(value, dict) or set(value) - {"gt", "gte", "lt", "lte"}:
        raise bad_param("created", "Invalid created: a timestamp or a hash of gt, gte, lt, lte")
    bounds = {op: _int(value, op) for op in value}
    checks = {
        "gt": lambda at, bound: at > bound,
        "gte": lambda at, bound: at >= bound,
        "lt": lambda at, bound: at < bound,
        "lte": lambda at, bound: at <= bound,
    }
    return lambda obj: all(checks[op](obj["created"], bound) for op, bound in bounds.items())


def _metadata(current: dict, params: dict) -> dict:
    """Stripe's metadata update: keys merge, an empty value removes a key, "" clears all."""
    value = params.get("metadata")
    if value is None:
        return current
    if value == "":
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise bad_param("metadata", "Invalid object: metadata must be a hash of strings")
    merged = dict(current)
    for key, item in value.items():
        if len(key) > 40:
            raise bad_param(f"metadata[{key}]", "Metadata keys can be at most 40 characters.")
        if len(item) > 500:
            raise bad_param(f"metadata[{key}]", "Metadata values can be at most 500 characters.")
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    if len(merged) > 50:
        raise bad_param("metadata", "Metadata can have at most 50 keys.")
    return merged


def _expand_paths(params: dict) -> list[list[str]]:
    value = params.get("expand") or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(path, str) for path in value):
        raise bad_param("expand", "Invalid array: expand must be a list of strings")
    return [path.split(".") for path in value]
