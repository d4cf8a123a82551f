from django.urls import path

from core.api.routers import Router
from tasks.api import recurring, timesheets, views

router = Router()
router.register("tasks", views.TaskViewSet, basename="task")
router.register(
    "recurring-requests", recurring.RecurringRequestViewSet, basename="recurring-request"
)

# One URL per move, each with its own view class, so that the roles a move allows are
# declared on the class where the isolation matrix can check them.
MOVES = [
    ("start", views.StartView),
    ("ask", views.AskView),
    ("answer", views.AnswerView),
    ("complete", views.CompleteView),
    ("approve", views.ApproveView),
    ("send-back", views.SendBackView),
    ("release", views.ReleaseView),
    ("assign", views.AssignView),
    ("cancel", views.CancelView),
]

# Endpoints inside one agency, mounted under /api/v1/a/<agency_slug>/.
agency_urlpatterns = [
    path("tasks/take-next/", views.TakeNextView.as_view(), name="task-take-next"),
    path("tasks/<int:pk>/take/", views.TakeView.as_view(), name="task-take"),
    *(path(f"tasks/<int:pk>/{move}/", view.as_view(), name=f"task-{move}") for move, view in MOVES),
    path("tasks/<int:pk>/comments/", views.CommentListView.as_view(), name="task-comments"),
    path("tasks/<int:pk>/files/", views.AttachmentListView.as_view(), name="task-files"),
    path(
        "tasks/<int:pk>/files/<int:file_pk>/download/",
        views.AttachmentDownloadView.as_view(),
        name="task-file-download",
    ),
    path(
        "tasks/<int:pk>/time-entries/",
        views.TimeEntryListView.as_view(),
        name="task-time-entries",
    ),
    path(
        "tasks/<int:pk>/time-entries/<int:entry_pk>/",
        views.TimeEntryDetailView.as_view(),
        name="task-time-entry",
    ),
    path(
        "recurring-requests/<int:pk>/pause/",
        recurring.RecurringPauseView.as_view(),
        name="recurring-request-pause",
    ),
    path(
        "recurring-requests/<int:pk>/resume/",
        recurring.RecurringResumeView.as_view(),
        name="recurring-request-resume",
    ),
    path("timesheets/", timesheets.TimesheetListView.as_view(), name="timesheet-list"),
    path("timesheets/<int:pk>/", timesheets.TimesheetDetailView.as_view(), name="timesheet-detail"),
    path(
        "timesheets/<int:pk>/approve/",
        timesheets.TimesheetApproveView.as_view(),
        name="timesheet-approve",
    ),
    path(
        "timesheets/<int:pk>/return/",
        timesheets.TimesheetReturnView.as_view(),
        name="timesheet-return",
    ),
    path("timer/", views.TimerView.as_view(), name="timer"),
    path("timer/start/", views.TimerStartView.as_view(), name="timer-start"),
    path("timer/stop/", views.TimerStopView.as_view(), name="timer-stop"),
    *router.urls,
]
