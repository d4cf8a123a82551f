from django.contrib import admin

from assistants.models import AssistantProfile, AssistantSkill


class AssistantSkillInline(admin.TabularInline):
    model = AssistantSkill
    extra = 0
    fields = ["category"]
    raw_id_fields = ["category"]


@admin.register(AssistantProfile)
class AssistantProfileAdmin(admin.ModelAdmin):
    """Platform staff tooling; agencies edit profiles on their own pages, through services."""

    list_display = [
        "__str__",
        "agency",
        "time_zone",
        "capacity",
        "pay_rate_display",
        "is_active",
        "updated_at",
    ]
    list_filter = ["is_active"]
    list_select_related = ["membership__user", "agency"]
    search_fields = ["membership__user__email", "membership__user__full_name"]
    raw_id_fields = ["agency", "membership"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [AssistantSkillInline]

    def save_formset(self, request, form, formset, change):
        # A skill row carries its profile's agency, like every tenant row.
        for skill in formset.save(commit=False):
            skill.agency_id = form.instance.agency_id
            skill.save()
        for skill in formset.deleted_objects:
            skill.delete()
        formset.save_m2m()

    @admin.display(description="pay rate")
    def pay_rate_display(self, profile):
        return f"{profile.pay_rate_display}/h"
