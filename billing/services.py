from billing.models import COMMON_CATEGORIES, ServiceCategory


def service_categories_seed(*, agency) -> None:
    """Give an agency the common categories it does not have yet."""
    existing = set(ServiceCategory.objects.filter(agency=agency).values_list("slug", flat=True))
    ServiceCategory.objects.bulk_create(
        ServiceCategory(agency=agency, slug=slug, name=name)
        for slug, name in COMMON_CATEGORIES
        if slug not in existing
    )
