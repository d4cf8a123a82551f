from django.contrib import admin

from billing.models import Charge


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    list_display = ["description", "client", "amount", "currency", "status", "created_at"]
    list_select_related = ["client"]
    list_filter = ["status", "kind"]
    search_fields = ["description", "idempotency_key"]

    def has_change_permission(self, request, obj=None):
        return False
