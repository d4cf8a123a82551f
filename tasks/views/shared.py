"""The task page every role opens, and its conversation and files."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin
from contracts.pricing import task_estimate
from contracts.selectors import terms_in_force
from core.errors import ApplicationError
from core.rich_text import render_markdown
from core.roles import STAFF_ROLES, Role
from tasks import services
from tasks.history import task_history
from tasks.models import Attachment
from tasks.queries import latest_of
from tasks.selectors import attachment_download, tasks_visible_to


def viewer_time_zone(membership, agency, client) -> str:
    """Whose clock a page shows: a client's people read their business's, an assistant
    their own, staff the agency's."""
    if membership.role == Role.CLIENT:
        return client.time_zone
    profile = getattr(membership, "assistant_profile", None)
    if membership.role == Role.ASSISTANT and profile is not None:
        return profile.time_zone
    return agency.time_zone


def task_url_prefix(agency) -> str:
    """The start of every task page's address in the agency ("/a/<slug>/tasks/"): lists
    add the id and the action, instead of reversing a URL for every link of every row."""
    return reverse("task_detail", kwargs={"agency_slug": agency.slug, "pk": 0}).removesuffix("0/")


class TaskMixin(AgencyViewMixin):
    """Resolves the task in the URL among the tasks this member may see (else 404)."""

    def get_task(self):
        if not hasattr(self, "_task"):
            tasks = tasks_visible_to(agency=self.agency, membership=self.membership)
            self._task = get_object_or_404(
                # What every view of the page shows; the rest (who approved, for a
                # client's finished task) is read when shown. Each table joined more
                # costs the database more to plan than the row costs to read.
                tasks.select_related("client", "service", "contract_line", "assignee__user"),
                pk=self.kwargs["pk"],
            )
        return self._task

    def back(self):
        return redirect("task_detail", agency_slug=self.agency.slug, pk=self.kwargs["pk"])


# How many of each long part of the task page show at first, the latest ones; a link shows
# the whole part (?all=comments, files, history or time), so the page stays one bounded
# read however long a task has run.
SHOWN = {"comments": 50, "files": 50, "history": 50, "time": 50}


class TaskDetailView(TaskMixin, TemplateView):
    template_name = "tasks/task_detail.html"

    def get_context_data(self, **kwargs):
        task = self.get_task()
        role = self.membership.role
        is_client = role == Role.CLIENT
        everything = self.request.GET.get("all", "")

        def shown(part: str) -> int | None:
            return None if everything == part else SHOWN[part]

        comments = task.comments.select_related("author")
        if is_client:
            comments = comments.filter(internal=False)
        comments, earlier_comments = latest_of(comments, shown=shown("comments"))
        attachments, earlier_files = latest_of(
            task.attachments.select_related("uploaded_by"), shown=shown("files")
        )
        line = task.contract_line
        # Assistants never see prices; everyone else sees what the work costs so far.
        at = task.completed_at or timezone.now()
        terms = terms_in_force(line, at) if role != Role.ASSISTANT else None
        history, earlier_history = [], False
        if not is_client:
            limit = shown("history")
            history = task_history(
                agency=self.agency, task=task, latest=None if limit is None else limit + 1
            )
            if limit is not None and len(history) > limit:
                history, earlier_history = history[1:], True
        return super().get_context_data(
            task=task,
            comments=comments,
            earlier_comments=earlier_comments,
            attachments=attachments,
            earlier_files=earlier_files,
            earlier_history=earlier_history,
            all_time=everything == "time",
            task_path=f"{task_url_prefix(self.agency)}{task.pk}/",
            terms=terms,
            estimate=task_estimate(terms, task.minutes_logged) if terms else None,
            history=history,
            manual_html=render_markdown(task.client.manual) if not is_client else "",
            is_client=is_client,
            is_staff=role in STAFF_ROLES,
            is_assignee=task.assignee_id == self.membership.pk,
            viewer_time_zone=viewer_time_zone(self.membership, self.agency, task.client),
            **kwargs,
        )


class CommentView(TaskMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        try:
            services.comment_add(
                agency=self.agency,
                actor=request.user,
                membership=self.membership,
                task=self.get_task(),
                body=request.POST.get("body", ""),
                internal=request.POST.get("internal") == "on"
                and self.membership.role != Role.CLIENT,
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        return self.back()


class AttachmentUploadView(TaskMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        task = self.get_task()  # 404 before anything is said about the files
        uploads = request.FILES.getlist("file")
        if not uploads:
            messages.error(request, "Choose a file to attach.")
        for upload in uploads:
            try:
                services.attachment_add(
                    agency=self.agency, actor=request.user, task=task, upload=upload
                )
            except ApplicationError as error:
                messages.error(request, f"{upload.name}: {error.message}")
        return self.back()


class AttachmentDownloadView(TaskMixin, View):
    """Files are private: served only to someone who may see the task."""

    def get(self, request, agency_slug, pk, attachment_pk):
        task = self.get_task()
        attachment = get_object_or_404(Attachment, agency=self.agency, task=task, pk=attachment_pk)
        return attachment_download(attachment)


urlpatterns = [
    path("tasks/<int:pk>/", TaskDetailView.as_view(), name="task_detail"),
    path("tasks/<int:pk>/comments/", CommentView.as_view(), name="task_comment"),
    path("tasks/<int:pk>/files/", AttachmentUploadView.as_view(), name="task_attach"),
    path(
        "tasks/<int:pk>/files/<int:attachment_pk>/",
        AttachmentDownloadView.as_view(),
        name="task_file",
    ),
]
