from django import forms

from core.errors import ApplicationError


def add_application_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's error next to the field it names, or at the top of the form."""
    field = error.extra.get("field")
    form.add_error(field if field in form.fields else None, error.message)
