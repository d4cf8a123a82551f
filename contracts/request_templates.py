"""Request templates: the structured fields a client fills in when requesting a service.

A template is a list of field definitions stored on the Service:
    {"name": "origin", "label": "Origin", "type": "text", "required": true, "choices": []}
Types: text, long_text, number, date, choice. `validate_template` is the single gate for
what may be stored; `template_form_fields` turns a stored template into form fields,
`clean_values` checks what a client filled in, and `field_rows` pairs stored values with
each field's own label for every place that shows them (the label stored in the template
is the one source: a key is never turned back into a label while its field exists).
"""

import re
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.text import slugify

from core.errors import ApplicationError
from core.validators import EARLIEST_DATE, LATEST_DATE, date_in_range, date_range_message

FIELD_TYPES = {
    "text": "Short text",
    "long_text": "Long text",
    "number": "Number",
    "date": "Date",
    "choice": "Choice from a list",
}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 20
# What a number field may hold: like a task's own budget, never negative and bounded.
NUMBER_MAX = Decimal("1000000000")
TEXT_MAX_CHARS = 400
LONG_TEXT_MAX_CHARS = 4000

# Every request form already has these fields of the task itself (tasks' request form and
# API): a template field with the same key or label would ask the same thing twice.
BUILT_IN_FIELDS = {
    "service": "Service",
    "title": "Title",
    "details": "Details",
    "priority": "Priority",
    "due_at": "Due",
    "due_date": "Due date",
    "due_time": "Due time",
    "max_budget": "Budget",
    "attachments": "Files",
    "over_cap_approved": "I approve going over this service's monthly budget",
}
# Other words people use for the same built-in fields.
BUILT_IN_ALIASES = {
    "due": "due_at",
    "due date and time": "due_at",
    "deadline": "due_at",
    "budget": "max_budget",
    "max budget": "max_budget",
    "maximum budget": "max_budget",
    "files": "attachments",
    "attachment": "attachments",
    "file": "attachments",
}


def _words(text: str) -> str:
    """A key or label reduced to lower-case words, for comparing names case-insensitively:
    "Due_Date", "due date" and "Due date (optional)" are the same."""
    text = re.sub(r"\(\s*optional\s*\)", " ", str(text).casefold())
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.replace("_", " ")).split())


_BUILT_IN = (
    {_words(key): key for key in BUILT_IN_FIELDS}
    | {_words(label): key for key, label in BUILT_IN_FIELDS.items()}
    | {_words(alias): key for alias, key in BUILT_IN_ALIASES.items()}
)


def built_in_field_for(text: str) -> str | None:
    """The task's own field a key or label stands for, if any."""
    words = _words(text)
    if re.fullmatch(r"budget in [a-z]{3}", words):  # the request form's "Budget in USD"
        return "max_budget"
    return _BUILT_IN.get(words)


def field_name_for(label: str, taken=()) -> str:
    """A stable key for a new field, made from its label once (a later change of label
    keeps the key, so values already given keep their field)."""
    base = slugify(label).replace("-", "_")[:32].strip("_")
    if not base[:1].isalpha():
        base = f"field_{base}".strip("_")
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def _invalid(message: str, *, row: int | None = None, code="request_template_invalid"):
    extra = {"field": "request_template"}
    if row is not None:
        extra["row"] = row  # the field's position in the template, from 0
    return ApplicationError(message, code=code, extra=extra)


def validate_template(fields) -> list[dict]:
    """Return the template in its stored shape, or raise a clear error. Keys are unique,
    labels too (case-insensitively), and neither may repeat one of the task's own fields."""
    if not isinstance(fields, list):
        raise _invalid("A request template is a list of fields.")
    if len(fields) > MAX_FIELDS:
        raise _invalid(f"A request template has at most {MAX_FIELDS} fields.")
    cleaned, seen, seen_labels = [], set(), set()
    for position, field in enumerate(fields, start=1):
        row = position - 1
        if not isinstance(field, dict):
            raise _invalid(f"Field {position} is not an object.", row=row)
        name = str(field.get("name", "")).strip()
        label = str(field.get("label", "")).strip()
        kind = field.get("type", "text")
        choices = field.get("choices") or []
        if not NAME.match(name):
            raise _invalid(
                f"Field {position}: the name must be lower-case letters, digits and _, "
                "starting with a letter.",
                row=row,
            )
        if name in seen:
            raise _invalid(f"Field {position}: the name “{name}” is used twice.", row=row)
        if not label or len(label) > 80:
            raise _invalid(f"Field {position}: give it a label of up to 80 characters.", row=row)
        if kind not in FIELD_TYPES:
            raise _invalid(f"Field {position}: unknown type “{kind}”.", row=row)
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise _invalid(f"Field {position}: choices are a list of texts.", row=row)
        choices = [c.strip() for c in choices if c.strip()]
        if kind == "choice" and len(choices) < 2:
            raise _invalid(f"Field {position}: a choice field needs at least two choices.", row=row)
        if kind == "choice" and len({c.casefold() for c in choices}) != len(choices):
            raise _invalid(f"Field {position}: a choice is listed twice.", row=row)
        if kind == "choice" and any(len(c) > 200 for c in choices):
            raise _invalid(f"Field {position}: keep each choice under 200 characters.", row=row)
        built_in = built_in_field_for(name) or built_in_field_for(label)
        if built_in is not None:
            raise _invalid(
                f"“{label}”: every request already has the task's own "
                f"“{BUILT_IN_FIELDS[built_in]}” field; give this field another label.",
                row=row,
                code="request_template_built_in",
            )
        if _words(label) in seen_labels:
            raise _invalid(f"Field {position}: the label “{label}” is used twice.", row=row)
        seen.add(name)
        seen_labels.add(_words(label))
        cleaned.append(
            {
                "name": name,
                "label": label,
                "type": kind,
                "required": bool(field.get("required", False)),
                "choices": choices if kind == "choice" else [],
            }
        )
    return cleaned


def template_form_fields(template: list[dict]) -> dict[str, forms.Field]:
    """Form fields for a stored template, keyed by the field's name. Each kind is checked
    as strictly as the task's own fields: texts within their length, numbers never
    negative and bounded, dates within the years the product works in, a choice from its
    list."""
    built = {}
    for field in template:
        common = {"label": field["label"], "required": field["required"]}
        kind = field["type"]
        if kind == "long_text":
            built[field["name"]] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 3}), max_length=LONG_TEXT_MAX_CHARS, **common
            )
        elif kind == "number":
            built[field["name"]] = forms.DecimalField(
                max_digits=14,
                decimal_places=4,
                validators=[
                    MinValueValidator(0, "Enter zero or more."),
                    MaxValueValidator(NUMBER_MAX, f"Enter at most {NUMBER_MAX:,}."),
                ],
                widget=forms.NumberInput(attrs={"min": "0", "step": "any"}),
                **common,
            )
        elif kind == "date":
            built[field["name"]] = forms.DateField(
                widget=forms.DateInput(
                    attrs={
                        "type": "date",
                        "min": EARLIEST_DATE.isoformat(),
                        "max": LATEST_DATE.isoformat(),
                    }
                ),
                validators=[_date_within_range],
                **common,
            )
        elif kind == "choice":
            options = [("", "—")] + [(c, c) for c in field["choices"]]
            built[field["name"]] = forms.ChoiceField(choices=options, **common)
        else:
            built[field["name"]] = forms.CharField(max_length=TEXT_MAX_CHARS, **common)
    return built


def _date_within_range(value) -> None:
    if not date_in_range(value):
        raise forms.ValidationError(date_range_message())


def clean_values(template: list[dict], data) -> dict[str, str]:
    """What a client filled in, checked against the template and stored as text keyed by
    the field's name (empty answers left out). The first problem is an error naming the
    field by its label."""
    if not isinstance(data, dict):
        raise ApplicationError(
            "The request form's fields are an object of answers.",
            code="task_template_invalid",
            extra={"field": "template_data"},
        )
    fields = template_form_fields(template)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ApplicationError(
            f"Unknown field “{unknown[0]}”.",
            code="task_template_invalid",
            extra={"field": unknown[0]},
        )
    cleaned = {}
    for name, field in fields.items():
        value = data.get(name)
        try:
            if isinstance(value, dict | list | tuple | bool):
                # only a browser's text or a JSON string or number is an answer
                raise forms.ValidationError("Enter a single value.")
            value = field.clean(value)
        except forms.ValidationError as error:
            raise ApplicationError(
                f"{field.label}: {' '.join(error.messages)}",
                code="task_template_invalid",
                extra={"field": name},
            ) from None
        if value in (None, ""):
            continue
        if isinstance(value, Decimal):
            cleaned[name] = format(value.normalize(), "f")
        elif hasattr(value, "isoformat"):
            cleaned[name] = value.isoformat()
        else:
            cleaned[name] = str(value)
    return cleaned


def field_rows(template: list[dict], values: dict) -> list[dict]:
    """The answers of a request, in the template's order, each with its field's own label:
    what the task page, e-mails, the API and exports show. An answer to a field the service
    no longer has keeps its place at the end, named after its key."""
    values = values if isinstance(values, dict) else {}
    rows = [
        {"name": field["name"], "label": field["label"], "value": values[field["name"]]}
        for field in template or ()
        if values.get(field["name"]) not in (None, "")
    ]
    known = {row["name"] for row in rows} | {field["name"] for field in template or ()}
    rows += [
        {"name": name, "label": name.replace("_", " ").strip().capitalize(), "value": value}
        for name, value in values.items()
        if name not in known and value not in (None, "")
    ]
    return rows
