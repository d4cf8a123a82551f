from django.core.management.base import BaseCommand, CommandError

from accounts.models import Agency
from reports.rollups import rebuild_all


class Command(BaseCommand):
    help = "Count every closed month's report figures again from the raw rows."

    def add_arguments(self, parser):
        parser.add_argument("--agency", metavar="SLUG", help="only this agency")

    def handle(self, *args, agency=None, **options):
        if agency and not Agency.objects.filter(slug=agency).exists():
            raise CommandError(f"No agency {agency!r}.")
        for slug, months in rebuild_all(agency_slug=agency).items():
            self.stdout.write(f"{slug}: {months} months counted")
