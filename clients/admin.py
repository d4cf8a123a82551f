from django.contrib import admin

from clients.models import Client


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "agency", "status", "billing_email", "time_zone", "currency"]
    list_filter = ["status"]
    list_select_related = ["agency"]
    search_fields = ["name", "billing_email", "stripe_customer_id"]
    raw_id_fields = ["agency"]
    # Billing sets the Stripe id and the manual service records who edited it; a hand edit
    # here would make either lie.
    readonly_fields = ["stripe_customer_id", "manual_updated_at", "manual_updated_by", "created_at"]
