"""A request's answers to its service's own fields, each under the field's own label."""

from django import template

from contracts.request_templates import field_rows

register = template.Library()


@register.simple_tag
def request_field_rows(service, values) -> list[dict]:
    """{% request_field_rows task.service task.template_data as rows %}: label and value of
    each answer, in the order of the service's request form."""
    return field_rows(getattr(service, "request_template", None) or [], values or {})
