from django.db import models

from core.models import TenantModel

# The categories most agencies sell; each new agency starts with them and may add more.
COMMON_CATEGORIES = [
    ("calendar-scheduling", "Calendar and scheduling"),
    ("inbox-management", "Inbox management"),
    ("travel-arrangements", "Travel arrangements"),
    ("bookkeeping", "Bookkeeping"),
    ("social-media", "Social media"),
    ("content-writing", "Content and blog writing"),
    ("data-entry", "Data entry"),
    ("document-preparation", "Document preparation"),
    ("newsletters", "Newsletters"),
    ("phone-handling", "Phone and inquiry handling"),
    ("research", "Research"),
    ("legal-admin", "Legal admin"),
    ("medical-admin", "Medical admin"),
]


class ServiceCategory(TenantModel):
    """A kind of work (bookkeeping, travel...). Services belong to one; assistants' skills
    are categories, which is how work is routed to people fit for it."""

    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=80)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "slug"], name="category_slug_unique"),
        ]
        ordering = ["name"]
        verbose_name_plural = "service categories"

    def __str__(self) -> str:
        return self.name
