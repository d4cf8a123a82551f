from django.contrib import admin

from clients.models import Client


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "agency", "billing_email", "time_zone", "currency"]
    list_select_related = ["agency"]
    search_fields = ["name", "billing_email"]
    raw_id_fields = ["agency"]
