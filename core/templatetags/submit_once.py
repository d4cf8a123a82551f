"""`{% submit_once %}`: the one-time key of a form that creates or claims something, so that
the form acts once however often it is sent (core.idempotency)."""

import uuid

from django import template
from django.utils.html import format_html

from core.idempotency import FORM_FIELD

register = template.Library()


@register.simple_tag
def submit_once():
    return format_html('<input type="hidden" name="{}" value="{}">', FORM_FIELD, uuid.uuid4().hex)
