"""Keyset (cursor) pagination for long page lists, and counts that stop at a bound.

A page number makes the database count every row of the filter and then skip all the rows
before the page (OFFSET), so page 2,000 of a large list costs as much as reading the list
to that point. A keyset page instead remembers the sort values of the row it stopped at and
asks for the rows after it: with an index that matches the sort, every page costs the same,
however deep, and nothing counts the whole filter.

Use it in a view:

    from core.pagination import KeysetPaginator, bounded_count

    page = KeysetPaginator(
        queryset,                              # already filtered and scoped to the agency
        ordering=("due_at", "-priority", "pk"),  # the list's order; must end on a unique key
        per_page=50,
    ).page_for(request)                       # reads ?cursor=, keeps every other parameter

    # in the context: page (iterate it for the rows) and, where a total is shown,
    # total = bounded_count(queryset)         # "10,000+" past the bound

and in the template, `{% include "partials/keyset_pager.html" with page=page %}` draws the
first / previous / next / last links (labels may be passed: `newer_label`, `older_label`).

Rules and choices:
- `ordering` names fields (related ones with "__", or annotations) with "-" for
  descending. It must end on a unique field (usually "pk") so that rows with equal sort
  values keep one stable order and none is shown twice or skipped. The fields must not be
  NULL (wrap a nullable one in an annotation with Coalesce first).
- Give the list an index that starts with its filter columns and ends with the ordering,
  e.g. (agency, due_at, priority DESC, id); otherwise each page still sorts the filter.
- The cursor is opaque to people (URL-safe base64 of the position) but not secret: it only
  positions a page inside a queryset the view has already limited to what the viewer may
  see. A cursor that does not decode, has the wrong shape or holds values of the wrong type
  gives the first page, never an error.
- No page numbers and no total: "Page 3 of 4,000" is what made lists slow. Show a bounded
  count where a figure helps.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import QueryDict

FORWARD = "n"
BACKWARD = "p"
# PostgreSQL's bigint: a larger number in a cursor would be a database error, not a page.
_INT_RANGE = (-(2**63), 2**63 - 1)
COUNT_LIMIT = 10_000


class InvalidCursor(ValueError):
    """A cursor that this list did not make (mangled, edited, or from another list)."""


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool

    @classmethod
    def parse(cls, spec: str) -> SortKey:
        return cls(spec.removeprefix("-"), spec.startswith("-"))

    def order_by(self, reverse: bool = False) -> str:
        return f"-{self.name}" if self.descending != reverse else self.name

    def after(self, value, reverse: bool = False) -> Q:
        """Rows strictly past `value` in this key's direction (or before it, reversed)."""
        lookup = "lt" if self.descending != reverse else "gt"
        return Q(**{f"{self.name}__{lookup}": value})

    def from_here(self, value, reverse: bool = False) -> Q:
        lookup = "lte" if self.descending != reverse else "gte"
        return Q(**{f"{self.name}__{lookup}": value})


def encode_cursor(direction: str, values: Sequence | None) -> str:
    payload = {"d": direction, "v": None if values is None else [_jsonable(v) for v in values]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, list | None]:
    """(direction, raw values) or InvalidCursor. Values are still JSON here; the paginator
    turns them into its fields' types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw, parse_constant=_refuse_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as error:
        raise InvalidCursor("The cursor does not decode.") from error
    if not isinstance(payload, dict) or payload.get("d") not in (FORWARD, BACKWARD):
        raise InvalidCursor("The cursor has no direction.")
    values = payload.get("v")
    if values is not None and not isinstance(values, list):
        raise InvalidCursor("The cursor has no position.")
    return payload["d"], values


def _refuse_constant(name):
    raise ValueError(f"{name} is not a position")


def _jsonable(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


def _checked(value, output_field):
    """A cursor value as the field's Python type, refusing what the database would choke on
    (so a tampered cursor is a first page, not a server error)."""
    if value is None or isinstance(value, dict | list):
        raise InvalidCursor("A cursor value is not a scalar.")
    if isinstance(value, str) and "\x00" in value:
        raise InvalidCursor("A cursor value holds a NUL character.")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidCursor("A cursor value is not a finite number.")
    try:
        value = output_field.to_python(value)
    except (ValidationError, TypeError, ValueError, OverflowError) as error:
        raise InvalidCursor("A cursor value has the wrong type.") from error
    if isinstance(value, int) and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise InvalidCursor("A cursor value is out of range.")
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise InvalidCursor("A cursor time has no offset.")
    return value


@dataclass
class KeysetPage:
    """One page of rows and the cursors around it. Iterate it for the rows."""

    object_list: list
    has_next: bool
    has_previous: bool
    next_cursor: str | None
    previous_cursor: str | None
    is_first: bool
    # Query strings ("?status=open&cursor=...") that keep every other parameter.
    next_url: str | None = None
    previous_url: str | None = None
    first_url: str | None = None
    last_url: str | None = None
    extra: dict = field(default_factory=dict)

    def __iter__(self) -> Iterator:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def __bool__(self) -> bool:
        return bool(self.object_list)

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


class KeysetPaginator:
    """Pages of `queryset` in `ordering`, `per_page` rows each, positioned by an opaque
    cursor (see the module docstring for the rules)."""

    def __init__(
        self,
        queryset: QuerySet,
        *,
        ordering: Sequence[str],
        per_page: int = 50,
        cursor_param: str = "cursor",
    ):
        if not ordering:
            raise ValueError("A keyset list needs an ordering that ends on a unique field.")
        self.queryset = queryset
        self.keys = [SortKey.parse(spec) for spec in ordering]
        self.per_page = per_page
        self.cursor_param = cursor_param

    # -- reading a page -------------------------------------------------------------------

    def page_for(self, request) -> KeysetPage:
        """The page the request's cursor names (the first page for none or a bad one),
        with links that keep the request's other query parameters."""
        page = self.page(request.GET.get(self.cursor_param))
        self._add_links(page, request.GET)
        return page

    def page(self, cursor: str | None, *, strict: bool = False) -> KeysetPage:
        """The page `cursor` names; the first page when it is empty, or invalid unless
        `strict` (then InvalidCursor, for an API to answer 400)."""
        if cursor:
            try:
                direction, values = self._decode(cursor)
            except InvalidCursor:
                if strict:
                    raise
                return self.first_page()
            if direction == FORWARD:
                return self._forward(values)
            page = self._backward(values)
            # Nothing before the position (the rows were removed meanwhile): start over.
            return page if page.object_list else self.first_page()
        return self.first_page()

    def first_page(self) -> KeysetPage:
        return self._forward(None)

    def _forward(self, values) -> KeysetPage:
        rows = self._fetch(values, reverse=False)
        has_next = len(rows) > self.per_page
        rows = rows[: self.per_page]
        return self._make(rows, has_next=has_next, has_previous=values is not None)

    def _backward(self, values) -> KeysetPage:
        rows = self._fetch(values, reverse=True)
        has_previous = len(rows) > self.per_page
        rows = rows[: self.per_page][::-1]
        # a backward page from the very end (the "last" link) has nothing after it
        return self._make(rows, has_next=values is not None, has_previous=has_previous)

    def _fetch(self, values, *, reverse: bool) -> list:
        queryset = self.queryset
        if values is not None:
            queryset = queryset.filter(self._past(values, reverse=reverse))
        ordering = [key.order_by(reverse=reverse) for key in self.keys]
        return list(queryset.order_by(*ordering)[: self.per_page + 1])

    def _past(self, values, *, reverse: bool) -> Q:
        """Rows after `values` in the list's order (before them, reversed): the first key
        past its value, or equal on it and past on the next, and so on. The leading
        "first key from its value on" is implied by the rest, but it is what lets the
        database start its index scan at the position instead of at the top."""
        condition = Q()
        for index, key in enumerate(self.keys):
            equal = Q(**{k.name: v for k, v in zip(self.keys[:index], values, strict=False)})
            condition |= equal & key.after(values[index], reverse=reverse)
        return self.keys[0].from_here(values[0], reverse=reverse) & condition

    def _make(self, rows, *, has_next: bool, has_previous: bool) -> KeysetPage:
        return KeysetPage(
            object_list=rows,
            has_next=has_next and bool(rows),
            has_previous=has_previous and bool(rows),
            next_cursor=encode_cursor(FORWARD, self._values(rows[-1])) if rows else None,
            previous_cursor=encode_cursor(BACKWARD, self._values(rows[0])) if rows else None,
            is_first=not has_previous,
        )

    # -- cursors --------------------------------------------------------------------------

    def _values(self, row) -> list:
        values = []
        for key in self.keys:
            value = row
            for part in key.name.split("__"):
                value = getattr(value, part)
            values.append(value)
        return values

    def _decode(self, cursor: str) -> tuple[str, list | None]:
        direction, raw = decode_cursor(cursor)
        if raw is None:
            if direction != BACKWARD:
                raise InvalidCursor("A forward cursor needs a position.")
            return direction, None  # the last page
        if len(raw) != len(self.keys):
            raise InvalidCursor("The cursor belongs to another list.")
        fields = self._output_fields()
        return direction, [_checked(value, fields[i]) for i, value in enumerate(raw)]

    def _output_fields(self) -> list:
        query = self.queryset.query.chain()  # resolving may add joins: not on ours
        return [query.resolve_ref(key.name, allow_joins=True).output_field for key in self.keys]

    # -- links ----------------------------------------------------------------------------

    def _add_links(self, page: KeysetPage, params: QueryDict) -> None:
        def link(cursor: str | None) -> str:
            query = params.copy()
            query.pop(self.cursor_param, None)
            query.pop("page", None)  # a page number from an older link means nothing here
            if cursor:
                query[self.cursor_param] = cursor
            encoded = query.urlencode()
            return f"?{encoded}" if encoded else "?"

        page.first_url = link(None)
        page.last_url = link(encode_cursor(BACKWARD, None))
        page.next_url = link(page.next_cursor) if page.has_next else None
        page.previous_url = link(page.previous_cursor) if page.has_previous else None


@dataclass(frozen=True)
class BoundedCount:
    """How many rows, up to a bound: "10,000+" beyond it (`more`: at least `value`)."""

    value: int
    more: bool
    limit: int

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.more else f"{self.value:,}"

    def __int__(self) -> int:
        return self.value


def bounded_count(
    queryset: QuerySet, limit: int = COUNT_LIMIT, *, column: str = "pk"
) -> BoundedCount:
    """Count at most `limit` rows (one query over a LIMIT subquery), so a figure beside a
    list costs the same for 10,000 rows as for 10 million. `column` is what the subquery
    reads: name one that the filter's index holds (the index alone then answers)."""
    found = queryset.order_by().values(column)[: limit + 1].count()
    return BoundedCount(value=min(found, limit), more=found > limit, limit=limit)
