"""Search-as-you-type choice of one row (a client, an assistant) among many.

A `<select>` of every client costs a form hundreds of rendered options and kilobytes of
HTML each time it is shown. `SearchChoiceField` renders one text field instead: with
scripts, htmx asks the kind's search endpoint for at most `SEARCH_LIMIT` matches as the
person types and `static/js/search_select.js` makes them a keyboard-driven listbox (the
WAI-ARIA combobox pattern) that keeps the chosen row's id in a hidden field. Without
scripts the text itself is sent and matched here, on the server: an exact name, or the
one row whose name or e-mail contains it.

The field validates against its own queryset (the form's agency and role decide it), so
an id from another agency, or one the endpoint never offered, is an invalid choice.

`SearchMultipleChoiceField` chooses several rows the same way (a contract's dedicated
assistants): the chosen ones are rendered as ticked checkboxes beside the one text field,
so the form's size follows what was chosen, not how many rows there are to choose from.
"""

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from django import forms
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

SEARCH_LIMIT = 20
SEARCH_MAX_LENGTH = 100
# The text field's name is the field's own plus this: its value is what was typed.
TEXT_SUFFIX = "_search"
_LIST_ID = re.compile(r"^[A-Za-z][\w-]{0,80}$")
_ID = re.compile(r"\d{1,18}")


def search_rows(
    queryset: QuerySet, *, fields: Iterable[str], term: str, limit: int = SEARCH_LIMIT
) -> list:
    """At most `limit` rows whose `fields` contain `term` (any case): those that start with
    it first, then the rest, each group in the queryset's own order.

    The queryset is already narrowed to one agency (an indexed column), so the match runs
    over that agency's rows only, and the LIMIT keeps the answer small.
    """
    term = clean_text(term)
    ordering = list(queryset.query.order_by) or ["pk"]
    if not term:
        return list(queryset[:limit])
    contains, starts = Q(), Q()
    for field in fields:
        contains |= Q(**{f"{field}__icontains": term})
        starts |= Q(**{f"{field}__istartswith": term})
    return list(
        queryset.filter(contains)
        .annotate(
            search_rank=Case(
                When(starts, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("search_rank", *ordering)[:limit]
    )


def clean_text(text) -> str:
    """Typed text as it is searched: trimmed, bounded, and without NUL characters, which
    PostgreSQL refuses in a query (a server error, not a search)."""
    return str(text or "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]


def search_term(request) -> str:
    """What the person typed: `q`, or the value of the widget's own text field (htmx sends
    the triggering input under its name, `<field>_search`)."""
    if "q" in request.GET:
        return request.GET["q"]
    for key, value in request.GET.items():
        if key.endswith(TEXT_SUFFIX):
            return value
    return ""


def with_list(url: str, list_id: str) -> str:
    """The search endpoint's URL with the listbox's id, which its options' ids start with
    (the URL may carry parameters of its own)."""
    if not url:
        return ""
    return f"{url}{'&' if '?' in url else '?'}list={list_id}"


def htmx_search(search: str, list_id: str) -> str:
    """The text field's htmx attributes: ask for matches as the person types (and on focus,
    so the list opens on what is already there), the latest request replacing the rest."""
    if not search:
        return ""
    return format_html(
        'hx-get="{}" hx-trigger="input changed delay:200ms, focus" hx-target="#{}" '
        'hx-swap="innerHTML" hx-sync="this:replace" ',
        search,
        list_id,
    )


def search_options_response(
    request,
    rows: Iterable,
    *,
    label: Callable[[object], str],
    hint: Callable[[object], str] = lambda row: "",
    noun: str = "match",
) -> HttpResponse:
    """The listbox's options for the rows found, as the fragment htmx swaps in."""
    list_id = request.GET.get("list", "")
    if not _LIST_ID.match(list_id):
        list_id = "search"
    rows = list(rows)
    if rows:
        body = format_html_join(
            "",
            '<li role="option" id="{}-{}" data-value="{}" aria-selected="false">'
            '<span class="search-select-label">{}</span>{}</li>',
            (
                (
                    list_id,
                    row.pk,
                    row.pk,
                    label(row),
                    format_html(" <small>{}</small>", hint(row)) if hint(row) else "",
                )
                for row in rows
            ),
        )
    else:
        body = format_html(
            '<li role="option" aria-disabled="true" class="search-select-empty">'
            "No {} for “{}”.</li>",
            noun,
            clean_text(search_term(request)),
        )
    response = HttpResponse(body)
    # Names of one agency's people: never kept by a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


class SearchSelect(forms.Widget):
    """A text field that searches, a hidden field that keeps the chosen id, and the listbox
    between them. The visible field carries the form field's id, so its label points at it."""

    search_url = ""
    placeholder = ""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.label_for: Callable[[object], str] = str

    def value_from_datadict(self, data, files, name):
        return (data.get(name) or None, data.get(name + TEXT_SUFFIX))

    def value_omitted_from_data(self, data, files, name):
        return name not in data and name + TEXT_SUFFIX not in data

    def render(self, name, value, attrs=None, renderer=None):
        pk, text = value if isinstance(value, tuple | list) else (value, None)
        if text is None:
            text = self.label_for(pk) if pk not in (None, "") else ""
        attrs = self.build_attrs(self.attrs, attrs)
        field_id = attrs.pop("id", None) or f"id_{name}"
        list_id = f"{field_id}_listbox"
        extra = format_html_join(" ", '{}="{}"', sorted(attrs.items()) if attrs else ())
        search = with_list(self.search_url, list_id)
        return format_html(
            '<div class="search-select" data-search-select>'
            '<input type="text" name="{}" id="{}" value="{}" placeholder="{}" maxlength="{}" '
            'autocomplete="off" role="combobox" aria-autocomplete="list" aria-expanded="false" '
            'aria-controls="{}" {}{}>'
            '<input type="hidden" name="{}" value="{}" data-search-value>'
            '<ul class="search-select-options" id="{}" role="listbox" hidden></ul>'
            '<span class="visually-hidden" role="status" aria-live="polite"></span>'
            "</div>",
            name + TEXT_SUFFIX,
            field_id,
            text,
            self.placeholder,
            SEARCH_MAX_LENGTH,
            list_id,
            htmx_search(search, list_id),
            extra,
            name,
            "" if pk is None else pk,
            list_id,
        )


class SearchChoiceField(forms.ModelChoiceField):
    """One row of `queryset`, chosen by id (a script picked it, or a link named it) or by
    the text typed, matched against `search_fields` when no script ran.

    Text that is not the chosen row's label means the person typed something else after
    choosing (a browser without scripts keeps the stale hidden id): the text wins.
    """

    widget = SearchSelect
    default_error_messages = {
        **forms.ModelChoiceField.default_error_messages,
        "no_match": "Nothing matches “%(text)s”.",
        "several": "Several match “%(text)s”: type more of the name, or pick one from the list.",
    }

    def __init__(
        self,
        queryset: QuerySet,
        *,
        search_fields: tuple[str, ...] = ("name",),
        exact_fields: tuple[str, ...] = ("name",),
        placeholder: str = "",
        **kwargs,
    ):
        kwargs.setdefault("empty_label", None)
        super().__init__(queryset, **kwargs)
        self.search_fields = search_fields
        self.exact_fields = exact_fields
        self.widget.placeholder = placeholder
        self.widget.label_for = self._label_for_pk
        self._chosen = None

    def __deepcopy__(self, memo):
        result = super().__deepcopy__(memo)
        result.widget.label_for = result._label_for_pk
        result._chosen = None
        return result

    def set_search(self, *, queryset: QuerySet, url: str) -> None:
        """Bind the field to one form's rows and to the endpoint that searches them."""
        self.queryset = queryset
        self.widget.search_url = url

    def _label_for_pk(self, pk) -> str:
        if hasattr(pk, "_meta"):
            return self.label_from_instance(pk)
        if not str(pk).isdigit():
            return ""
        row = self._chosen if self._chosen is not None and str(self._chosen.pk) == str(pk) else None
        if row is None:
            row = self.queryset.filter(pk=pk).first()
        return self.label_from_instance(row) if row is not None else ""

    def prepare_value(self, value):
        if isinstance(value, tuple | list):
            return value
        return super().prepare_value(value)

    def to_python(self, value):
        pk, text = value if isinstance(value, tuple | list) else (value, None)
        text = None if text is None else clean_text(text)
        if text == "":
            return None  # the text was cleared: no choice, whatever id was kept
        if pk not in self.empty_values:
            row = self._chosen = super().to_python(pk)  # kept: the field shows its name
            if text is None or text.casefold() == self.label_from_instance(row).strip().casefold():
                return row
        if not text:
            return None
        return self._match(text)

    def _match(self, text: str):
        exact = Q()
        for field in self.exact_fields:
            exact |= Q(**{f"{field}__iexact": text})
        found = list(self.queryset.filter(exact)[:2])
        if len(found) != 1:
            contains = Q()
            for field in self.search_fields:
                contains |= Q(**{f"{field}__icontains": text})
            found = found or list(self.queryset.filter(contains)[:2])
        if len(found) == 1:
            return found[0]
        code = "several" if found else "no_match"
        raise forms.ValidationError(self.error_messages[code], code=code, params={"text": text})

    def has_changed(self, initial, data):
        return str(self.prepare_value(initial) or "") != str(
            (data[0] if isinstance(data, tuple | list) else data) or ""
        )


# -- several rows ---------------------------------------------------------------------------


class Searched(NamedTuple):
    """What a multiple search field sent: the ids ticked, and the text typed (None when
    the text field was not sent at all)."""

    values: list[str]
    text: str | None


class SearchSelectMultiple(forms.Widget):
    """The rows chosen so far as ticked checkboxes (untick one to let it go), then a text
    field that searches for another, with the listbox under it. The text field carries the
    form field's id, so its label points at it.

    With scripts, picking an option adds it to the ticked ones and empties the text field
    for the next name. Without them, the checkboxes are the choice and the text is matched
    on the server when the form is sent; text that matches several rows comes back with
    those rows offered as boxes to tick. Only the chosen (and offered) rows are rendered,
    however many the field could choose from."""

    search_url = ""
    placeholder = ""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        # Set by the field: (id, label) of the chosen ids that are still choices, in one
        # query; and the rows that typed text matched when it matched several.
        self.labels_for: Callable[[list], list[tuple[object, str]]] = lambda values: []
        self.offered_for: Callable[[], list[tuple[object, str]]] = lambda: []

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []
        if isinstance(values, str):
            values = [values]
        return Searched(list(values), data.get(name + TEXT_SUFFIX))

    def value_omitted_from_data(self, data, files, name):
        # As with checkboxes, nothing ticked sends nothing: that is a choice of none.
        return False

    def render(self, name, value, attrs=None, renderer=None):
        if isinstance(value, Searched):
            values, text = value.values, value.text or ""
        else:
            values, text = list(value or []), ""
        chosen = self.labels_for(values)
        taken = {str(pk) for pk, _ in chosen}
        offered = [(pk, label) for pk, label in self.offered_for() if str(pk) not in taken]
        attrs = self.build_attrs(self.attrs, attrs)
        field_id = attrs.pop("id", None) or f"id_{name}"
        list_id = f"{field_id}_listbox"
        extra = format_html_join(" ", '{}="{}"', sorted(attrs.items()) if attrs else ())
        boxes = format_html_join(
            "",
            '<li><label><input type="checkbox" name="{}" value="{}"{}> {}</label></li>',
            (
                *((name, pk, " checked", label) for pk, label in chosen),
                *((name, pk, "", label) for pk, label in offered),
            ),
        )
        return format_html(
            '<div class="search-select search-select-multiple" data-search-select '
            'data-search-multiple="{}">'
            '<ul class="search-select-chosen" aria-label="Chosen" data-search-chosen{}>{}</ul>'
            '<input type="text" name="{}" id="{}" value="{}" placeholder="{}" maxlength="{}" '
            'autocomplete="off" role="combobox" aria-autocomplete="list" aria-expanded="false" '
            'aria-controls="{}" {}{}>'
            '<ul class="search-select-options" id="{}" role="listbox" hidden></ul>'
            '<span class="visually-hidden" role="status" aria-live="polite"></span>'
            "</div>",
            name,
            "" if chosen or offered else mark_safe(" hidden"),
            boxes,
            name + TEXT_SUFFIX,
            field_id,
            text,
            self.placeholder,
            SEARCH_MAX_LENGTH,
            list_id,
            htmx_search(with_list(self.search_url, list_id), list_id),
            extra,
            list_id,
        )


class SearchMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Rows of `queryset`, chosen by id (ticked boxes, or options a script picked) and by
    the text typed, which adds one more row when no script ran: an exact match of
    `exact_fields`, else the one row whose `search_fields` contain it. Text that matches
    several is an error that offers them to tick; ids that are not in the queryset (another
    agency's, or no longer choosable) are an invalid choice."""

    widget = SearchSelectMultiple
    default_error_messages = {
        **forms.ModelMultipleChoiceField.default_error_messages,
        "no_match": "Nothing matches “%(text)s”.",
        "several": "Several match “%(text)s”: tick the ones you mean, or type more of the name.",
    }

    def __init__(
        self,
        queryset: QuerySet,
        *,
        search_fields: tuple[str, ...] = ("name",),
        exact_fields: tuple[str, ...] = ("name",),
        placeholder: str = "",
        **kwargs,
    ):
        super().__init__(queryset, **kwargs)
        self.search_fields = search_fields
        self.exact_fields = exact_fields
        self.widget.placeholder = placeholder
        self._bind_widget()

    def __deepcopy__(self, memo):
        result = super().__deepcopy__(memo)
        result._bind_widget()
        return result

    def _bind_widget(self) -> None:
        self._offered: list = []
        self.widget.labels_for = self._labels_for
        self.widget.offered_for = self._offered_labels

    def set_search(self, *, queryset: QuerySet, url: str) -> None:
        """Bind the field to one form's rows and to the endpoint that searches them."""
        self.queryset = queryset
        self.widget.search_url = url

    def _labels_for(self, values) -> list[tuple[object, str]]:
        """The chosen rows that are choices, in the queryset's order: one query, or none."""
        pks = {str(getattr(v, "pk", v)) for v in values}
        pks = [pk for pk in pks if _ID.fullmatch(pk)]  # within the database's integer
        if not pks:
            return []
        return [(row.pk, self.label_from_instance(row)) for row in self.queryset.filter(pk__in=pks)]

    def _offered_labels(self) -> list[tuple[object, str]]:
        return [(row.pk, self.label_from_instance(row)) for row in self._offered]

    def prepare_value(self, value):
        if isinstance(value, Searched):
            return value
        return super().prepare_value(value)

    def clean(self, value):
        values, text = value if isinstance(value, Searched) else (value or [], None)
        values = [v for v in values if v not in self.empty_values]
        for v in values:
            # A number past the database's integer would be its error, not the form's.
            if not _ID.fullmatch(str(v)):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": v},
                )
        rows = list(super().clean(values)) if values else []
        text = clean_text(text)
        if text:
            found = self._match(text)
            if found.pk not in {row.pk for row in rows}:
                rows.append(found)
        if self.required and not rows:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return rows

    def _match(self, text: str):
        exact = Q()
        for field in self.exact_fields:
            exact |= Q(**{f"{field}__iexact": text})
        found = list(self.queryset.filter(exact)[:SEARCH_LIMIT])
        if not found:
            contains = Q()
            for field in self.search_fields:
                contains |= Q(**{f"{field}__icontains": text})
            found = list(self.queryset.filter(contains)[:SEARCH_LIMIT])
        if len(found) == 1:
            return found[0]
        self._offered = found
        code = "several" if found else "no_match"
        raise forms.ValidationError(self.error_messages[code], code=code, params={"text": text})

    def has_changed(self, initial, data):
        if isinstance(data, Searched):
            if clean_text(data.text):
                return True
            data = data.values
        return super().has_changed(initial, data)
