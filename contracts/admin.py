from django.contrib import admin

from contracts.models import ContractLine, ContractTerms, Service, ServiceCategory, ServiceContract


@admin.register(ServiceCategory)
class ServiceCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "agency"]
    list_select_related = ["agency"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "agency", "default_pricing_model", "is_active"]
    list_select_related = ["category", "agency"]
    list_filter = ["is_active"]
    search_fields = ["name"]


class ContractLineInline(admin.TabularInline):
    model = ContractLine
    extra = 0
    raw_id_fields = ["service"]
    readonly_fields = ["created_at", "removed_at"]


@admin.register(ServiceContract)
class ServiceContractAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "agency", "status", "starts_on", "ends_on", "currency"]
    list_select_related = ["client", "agency"]
    list_filter = ["status", "billing_cadence"]
    raw_id_fields = ["client"]
    inlines = [ContractLineInline]


@admin.register(ContractTerms)
class ContractTermsAdmin(admin.ModelAdmin):
    """Terms are history once in force: platform staff read them here, services write."""

    list_display = ["line", "effective_from", "pricing_model", "agency"]
    list_select_related = ["line__contract", "line__service", "agency"]

    def has_change_permission(self, request, obj=None):
        return False
