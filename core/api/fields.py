"""Serializer fields shared by every app's API."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.INT)
class AgencyScopedPrimaryKey(serializers.PrimaryKeyRelatedField):
    """A reference to another row of the caller's agency (the active scope fences it)."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all()
