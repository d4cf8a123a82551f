"""Request templates: the structured fields a client fills in when requesting a service.

A template is a list of field definitions stored on the Service:
    {"name": "origin", "label": "Origin", "type": "text", "required": true, "choices": []}
Types: text, long_text, number, date, choice. `validate_template` is the single gate for
what may be stored; `template_form_fields` turns a stored template into form fields.
"""

import re

from django import forms

from core.errors import ApplicationError

FIELD_TYPES = {
    "text": "Short text",
    "long_text": "Long text",
    "number": "Number",
    "date": "Date",
    "choice": "Choice from a list",
}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 20


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(
        message, code="request_template_invalid", extra={"field": "request_template"}
    )


def validate_template(fields) -> list[dict]:
    """Return the template in its stored shape, or raise a clear error."""
    if not isinstance(fields, list):
        raise _invalid("A request template is a list of fields.")
    if len(fields) > MAX_FIELDS:
        raise _invalid(f"A request template has at most {MAX_FIELDS} fields.")
    cleaned, seen = [], set()
    for position, field in enumerate(fields, start=1):
        if not isinstance(field, dict):
            raise _invalid(f"Field {position} is not an object.")
        name = str(field.get("name", "")).strip()
        label = str(field.get("label", "")).strip()
        kind = field.get("type", "text")
        choices = field.get("choices") or []
        if not NAME.match(name):
            raise _invalid(
                f"Field {position}: the name must be lower-case letters, digits and _, "
                "starting with a letter."
            )
        if name in seen:
            raise _invalid(f"Field {position}: the name “{name}” is used twice.")
        if not label or len(label) > 80:
            raise _invalid(f"Field {position}: give it a label of up to 80 characters.")
        if kind not in FIELD_TYPES:
            raise _invalid(f"Field {position}: unknown type “{kind}”.")
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise _invalid(f"Field {position}: choices are a list of texts.")
        choices = [c.strip() for c in choices if c.strip()]
        if kind == "choice" and len(choices) < 2:
            raise _invalid(f"Field {position}: a choice field needs at least two choices.")
        seen.add(name)
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
    """Form fields for a stored template, keyed by the field's name."""
    built = {}
    for field in template:
        common = {"label": field["label"], "required": field["required"]}
        kind = field["type"]
        if kind == "long_text":
            built[field["name"]] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, **common
            )
        elif kind == "number":
            built[field["name"]] = forms.DecimalField(max_digits=14, decimal_places=4, **common)
        elif kind == "date":
            built[field["name"]] = forms.DateField(
                widget=forms.DateInput(attrs={"type": "date"}), **common
            )
        elif kind == "choice":
            options = [("", "—")] + [(c, c) for c in field["choices"]]
            built[field["name"]] = forms.ChoiceField(choices=options, **common)
        else:
            built[field["name"]] = forms.CharField(max_length=400, **common)
    return built
