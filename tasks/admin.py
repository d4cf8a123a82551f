from django.contrib import admin

from tasks.models import Attachment, Comment, RecurringRequest, Task, TimeEntry


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Platform staff read tasks here; their status moves only through the services."""

    list_display = ["title", "client", "service", "status", "assignee", "due_at", "agency"]
    list_select_related = ["client", "service", "assignee__user", "agency"]
    list_filter = ["status", "priority"]
    search_fields = ["title"]
    raw_id_fields = [
        "client",
        "contract_line",
        "contract",
        "service",
        "category",
        "assignee",
        "requested_by",
        "approved_by",
        "recurrence",
    ]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin):
    list_display = ["task", "assistant", "started_at", "ended_at", "seconds", "minutes", "manual"]
    list_select_related = ["task", "assistant__user"]
    raw_id_fields = ["task", "assistant"]


@admin.register(RecurringRequest)
class RecurringRequestAdmin(admin.ModelAdmin):
    list_display = ["title", "client", "frequency", "next_run_at", "is_active"]
    list_select_related = ["client"]
    list_filter = ["is_active", "frequency"]


admin.site.register(Comment)
admin.site.register(Attachment)
