"""Serializers shared by every app's API."""

from rest_framework import serializers


class NoBodySerializer(serializers.Serializer):
    """The body of a request that needs nothing more than its URL: an empty object (or no
    body at all)."""


class ErrorSerializer(serializers.Serializer):
    """Every failure's body (core.api.errors.exception_handler)."""

    message = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="Stable: clients branch on it.")
    extra = serializers.DictField(
        help_text="Details, such as the offending `field` or every field's `fields` errors."
    )
