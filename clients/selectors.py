from django.db.models import Count, Q, QuerySet

from clients.models import Client


def client_list(*, agency) -> QuerySet[Client]:
    return (
        Client.objects.filter(agency=agency)
        .annotate(member_count=Count("members", filter=Q(members__is_active=True)))
        .order_by("name")
    )
