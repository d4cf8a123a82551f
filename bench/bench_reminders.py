"""Time one full reminder sweep (task reminders, billing reminders and the e-mail delivery)
on the generated data, to show its cost follows what is due, not what exists.

    .venv/bin/python -m bench.bench_reminders [--due 300] [--runs 3]

Run `python -m bench.generate` first (200,000 tasks; and, for the comparison, a database
made with `--tasks 20000`). Two scenarios, each timed as a first sweep (it makes and
e-mails the reminders, rendered from the templates into Django's in-memory mail box) and a
repeat sweep (everything already said: the steady state beat runs in every 5 minutes):

- fixed: the sweep runs at a moment two months past the generated data, where none of it
  is due any more (all of it is older than the sweeps' look-back), with `--due` tasks, open
  invoices and retainer charges made here to fall due then. The same amount is due at any
  data size, so the times should match across sizes;
- as generated: the sweep runs now over the generator's own open work, whose due times are
  spread over the coming two weeks, so what is due grows with the data (the counts shown).

Everything made here (tasks, invoices, charges, notifications) is removed afterwards.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time

from bench.generate import BIG_SLUG, setup_django


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_reminders", description=__doc__)
    parser.add_argument("--due", type=int, default=300, help="tasks made due (fixed scenario)")
    parser.add_argument("--runs", type=int, default=3, help="repeat sweeps timed")
    args = parser.parse_args(argv)
    os.environ.setdefault("DEBUG", "false")
    setup_django()

    from django.conf import settings
    from django.db import connection, reset_queries

    from accounts.models import Agency
    from core.tenancy import scopes_disabled
    from notifications.models import Notification
    from tasks.models import Task
    from va_agency.celery import app

    # E-mails are rendered and "sent" in this process, so their cost is in the figures.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    app.conf.task_always_eager = True
    settings.DEBUG = True  # to count queries
    with scopes_disabled():
        agency = Agency.objects.filter(slug=BIG_SLUG).first()
        if agency is None:
            sys.exit("No bench agency: run `python -m bench.generate` first.")
        total = Task.objects.count()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; tasks: {total:,}")

    def sweep(now):
        from django.core import mail

        from billing.reminders import sweep_billing_reminders
        from notifications.services import deliver_due_emails
        from tasks.reminders import sweep_task_reminders

        mail.outbox = []
        reset_queries()
        started = time.perf_counter()
        made = sweep_task_reminders(now=now) + sweep_billing_reminders(now=now)
        deliver_due_emails(now=now)
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, made, len(mail.outbox), len(connection.queries)

    def report(label, now):
        import time_machine

        # The clock itself moves (jobs read it), ticking from `now` on.
        with time_machine.travel(now, tick=True):
            first = sweep(_now())
            repeats = [sweep(_now()) for _ in range(args.runs)]
        steady = statistics.median(r[0] for r in repeats)
        per = f"{first[0] / first[1]:6.2f} ms a reminder" if first[1] else "no reminders"
        print(
            f"{label:<14} first sweep {first[0]:8.0f} ms, {first[1]:5d} reminders, "
            f"{first[2]:5d} e-mails, {first[3]:5d} queries ({per}) | repeat sweep (median "
            f"of {args.runs}) {steady:6.0f} ms, {repeats[0][1]} new, {repeats[0][3]} queries"
        )

    started_at = _now()
    made = {}
    try:
        future = started_at + dt.timedelta(days=60)
        made = _make_due_work(agency, future, args.due)
        report("fixed", future)
        with scopes_disabled():
            open_due = Task.objects.filter(
                status__in=["queued", "assigned", "in_progress", "waiting_on_client"],
                due_at__gt=started_at - dt.timedelta(days=3),
                due_at__lte=started_at + dt.timedelta(hours=48),
            ).count()
        print(f"{'':<14} (as generated: {open_due:,} open tasks due within the sweep windows)")
        report("as generated", started_at)
    finally:
        with scopes_disabled():
            Notification.objects.filter(created_at__gte=started_at).delete()
            _remove(made)


def _now():
    from django.utils import timezone

    return timezone.now()


def _make_due_work(agency, at, count) -> dict:
    """`count` open tasks due within the next hours of `at` (half of them assigned), a
    tenth as many open invoices coming due, failed or just issued, and retainer charges
    that leave a bank low: all of it due at `at`, none of it at any other moment."""
    from accounts.models import Membership
    from billing.models import Charge, Invoice
    from core.roles import Role
    from core.tenancy import agency_scope
    from tasks.models import Task

    with agency_scope(agency):
        template = list(Task.objects.filter(agency=agency).order_by("pk")[: count + 1])
        assistants = list(
            Membership.objects.filter(agency=agency, role=Role.ASSISTANT, is_active=True)[:50]
        )
        tasks = []
        for n, source in enumerate(template[:count]):
            assigned = n % 2 == 0
            tasks.append(
                Task(
                    agency=agency,
                    client_id=source.client_id,
                    contract_line_id=source.contract_line_id,
                    contract_id=source.contract_id,
                    service_id=source.service_id,
                    category_id=source.category_id,
                    currency=source.currency,
                    title=f"Bench reminder {n}",
                    priority=n % 4,
                    due_at=at + dt.timedelta(minutes=30 + n),
                    status="in_progress" if assigned else "queued",
                    assignee=assistants[n % len(assistants)] if assigned else None,
                    queued_at=at - dt.timedelta(hours=3),
                )
            )
        tasks = Task.objects.bulk_create(tasks)
        invoices = Invoice.objects.bulk_create(
            Invoice(
                agency=agency,
                client_id=source.client_id,
                collection_method="send_invoice",
                currency=source.currency,
                amount_due=10000 + n,
                number=f"BENCH-{n}",
                status="open",
                finalized_at=at - dt.timedelta(hours=n % 48),
                due_date=at + dt.timedelta(hours=(n % 100) - 30),
                payment_failed=n % 7 == 0,
            )
            for n, source in enumerate(template[: max(count // 10, 1)])
        )
        retainer_line = (
            Charge.objects.filter(agency=agency, period_start__isnull=False)
            .values_list("contract_line_id", "terms_id", "client_id", "currency")
            .first()
        )
        charges = []
        if retainer_line:
            line_id, terms_id, client_id, currency = retainer_line
            for n, task in enumerate(tasks[: max(count // 30, 1)]):
                charges.append(
                    Charge(
                        agency=agency,
                        kind="task",
                        task=task,
                        contract_line_id=line_id,
                        terms_id=terms_id,
                        client_id=client_id,
                        period_start=at.date().replace(day=1),
                        minutes_from_bank=30,
                        amount=0,
                        currency=currency,
                        description=f"Bench retainer {n}",
                        idempotency_key=f"bench-reminder-{task.pk}",
                        breakdown={"bank_left_before": 100},
                    )
                )
            charges = Charge.objects.bulk_create(charges)
        # bulk_create stamps auto_now_add with the real clock: move them to `at`.
        Charge.objects.filter(pk__in=[c.pk for c in charges]).update(
            created_at=at - dt.timedelta(hours=1)
        )
    return {"tasks": tasks, "invoices": invoices, "charges": charges}


def _remove(made: dict) -> None:
    from billing.models import Charge, Invoice
    from tasks.models import Task

    Charge.objects.filter(pk__in=[c.pk for c in made.get("charges", [])]).delete()
    Invoice.objects.filter(pk__in=[i.pk for i in made.get("invoices", [])]).delete()
    Task.objects.filter(pk__in=[t.pk for t in made.get("tasks", [])]).delete()


if __name__ == "__main__":
    main()
