"""Clients' ratings of finished work: one to five stars and an optional comment, given when
a client member approves a task.

One rating per task: the latest approval's. Work sent back and approved again is rated
again, and the new rating replaces the old one, so that an assistant's average counts each
piece of work once, as the client finally judged it. The assistant's count and sum of stars
are kept on their profile in the rating's own transaction (assistants cannot read tasks),
so every list shows the average without a query per row.
"""

from django.db import models
from django.db.models import F

from assistants.models import AssistantProfile
from core.audit import audit_record
from core.errors import ApplicationError, text_within
from core.models import TenantModel

RATING_MIN = 1
RATING_MAX = 5
RATING_COMMENT_MAX_CHARS = 1000


class TaskRating(TenantModel):
    """How the client rated one task's work, and who did it (the assignee at approval)."""

    task = models.OneToOneField("tasks.Task", on_delete=models.CASCADE, related_name="rating")
    assistant = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="ratings_received"
    )
    stars = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=RATING_COMMENT_MAX_CHARS, blank=True)
    rated_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "tasks"
        constraints = [
            models.UniqueConstraint(fields=["agency", "task"], name="task_rating_once_per_task"),
            models.CheckConstraint(
                condition=models.Q(stars__gte=RATING_MIN, stars__lte=RATING_MAX),
                name="task_rating_stars_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "assistant", "created_at"], name="task_rating_assistant")
        ]

    def __str__(self) -> str:
        return f"{self.task_id} · {self.stars}"


def rating_clean(stars, comment) -> tuple[int | None, str]:
    """(stars, comment) checked: stars a whole number from 1 to 5 or nothing; a comment
    within its limit, and only with stars (a comment alone rates nothing)."""
    comment = text_within(
        comment, limit=RATING_COMMENT_MAX_CHARS, field="rating_comment", label="A comment"
    )
    if stars in (None, ""):
        if comment:
            raise ApplicationError(
                "Choose a rating from 1 to 5 to go with your comment.",
                code="rating_required",
                extra={"field": "rating"},
            )
        return None, ""
    value = None
    if isinstance(stars, int) and not isinstance(stars, bool):
        value = stars
    elif isinstance(stars, str) and stars.strip().isdigit():
        value = int(stars.strip())
    if value is None or not RATING_MIN <= value <= RATING_MAX:
        raise ApplicationError(
            f"A rating is a whole number from {RATING_MIN} to {RATING_MAX}.",
            code="rating_out_of_range",
            extra={"field": "rating"},
        )
    return value, comment


def task_rating_record(*, agency, actor, task, stars: int, comment: str = "") -> TaskRating:
    """Record the client's rating of an approved task's work (inside the approval's
    transaction). A task rated before keeps one rating, the new one; the assistant's
    totals on their profile move by the difference, in the same transaction."""
    if task.assignee_id is None:
        raise ApplicationError(
            "Nobody did this work, so it cannot be rated.", code="rating_no_assistant"
        )
    previous = TaskRating.objects.select_for_update().filter(agency=agency, task=task).first()
    if previous is not None:
        AssistantProfile.objects.filter(agency=agency, membership_id=previous.assistant_id).update(
            rating_count=F("rating_count") - 1, rating_sum=F("rating_sum") - previous.stars
        )
        rating = previous
        rating.assistant_id = task.assignee_id
        rating.stars = stars
        rating.comment = comment
        rating.rated_by = actor
        rating.save(update_fields=["assistant", "stars", "comment", "rated_by", "updated_at"])
    else:
        rating = TaskRating.objects.create(
            agency=agency,
            task=task,
            assistant_id=task.assignee_id,
            stars=stars,
            comment=comment,
            rated_by=actor,
        )
    AssistantProfile.objects.filter(agency=agency, membership_id=task.assignee_id).update(
        rating_count=F("rating_count") + 1, rating_sum=F("rating_sum") + stars
    )
    audit_record(
        agency=agency,
        actor=actor,
        action="task.rated",
        target=task,
        stars=stars,
        assistant=task.assignee_id,
        replaced=previous is not None,
    )
    return rating


def rating_totals(*, agency, membership_ids) -> dict[int, dict]:
    """{membership id: {count, sum}} counted from the ratings themselves, in one grouped
    query: what the totals kept on the profiles must agree with."""
    rows = (
        TaskRating.objects.filter(agency=agency, assistant_id__in=list(membership_ids))
        .values("assistant_id")
        .annotate(count=models.Count("pk"), sum=models.Sum("stars"))
    )
    return {row["assistant_id"]: {"count": row["count"], "sum": row["sum"]} for row in rows}
