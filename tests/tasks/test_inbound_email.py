"""Requests by e-mail and replies that become comments: real MIME messages, built with
Python's `email` package, through the one entrance both the webhook and the mail-reading
command use, and through those two entrances themselves."""

import hashlib
import hmac
import mailbox
import secrets
import time
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from contracts.models import ServiceContract
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import Notification
from notifications.services import emails_send, notification_email_send
from tasks import services as task_services
from tasks.inbound.addresses import reply_address
from tasks.inbound.models import ClientIntake, InboundMessage
from tasks.inbound.parsing import html_to_text, strip_quoted
from tasks.inbound.services import (
    client_intake_ensure,
    client_intake_regenerate,
    inbound_mail_receive,
)
from tasks.models import Attachment, Comment, Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory, UserFactory

DOMAIN = "in.agency.test"
KEY = "mailgun-signing-key-for-tests"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


@pytest.fixture
def shop(agency, settings, tmp_path, time_machine):
    """A client with two contracted services (bookkeeping, inbox management) and a member;
    a second client of the same agency with one service and its own member; an assistant."""
    time_machine.move_to("2026-03-10 12:00Z", tick=False)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INBOUND_EMAIL_DOMAIN = DOMAIN
    settings.INBOUND_EMAIL_SIGNING_KEY = KEY
    settings.ATTACHMENT_MAX_BYTES = 1024
    category = CategoryFactory(agency=agency, name="Finance")
    books = ServiceFactory(agency=agency, name="Bookkeeping", category=category)
    inbox = ServiceFactory(agency=agency, name="Inbox management")
    client = ClientFactory(agency=agency, name="Alder Ltd")
    contract = ContractFactory(agency=agency, client=client, status="active")
    LineFactory(agency=agency, contract=contract, service=books)
    LineFactory(agency=agency, contract=contract, service=inbox)
    ana = MembershipFactory(
        agency=agency, role=Role.CLIENT, client=client, user=UserFactory(email="ana@alder.test")
    )
    other = ClientFactory(agency=agency, name="Birch Ltd")
    other_contract = ContractFactory(agency=agency, client=other, status="active")
    LineFactory(agency=agency, contract=other_contract, service=books)
    ben = MembershipFactory(
        agency=agency, role=Role.CLIENT, client=other, user=UserFactory(email="ben@birch.test")
    )
    assistant = AssistantProfileFactory(agency=agency, skills=[category])
    with agency_scope(agency):
        intake = client_intake_ensure(agency=agency, client=client)
        other_intake = client_intake_ensure(agency=agency, client=other)
    return {
        "agency": agency,
        "client": client,
        "other": other,
        "books": books,
        "inbox": inbox,
        "ana": ana,
        "ben": ben,
        "assistant": assistant.membership,
        "address": f"{intake.token}@{DOMAIN}",
        "token": intake.token,
        "other_address": f"{other_intake.token}@{DOMAIN}",
    }


def message(
    *,
    sender="Ana <ana@alder.test>",
    to,
    subject="Receipts",
    text="Please file these.",
    html=None,
    files=(),
    message_id=None,
    **headers,
) -> bytes:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject
    email["Message-ID"] = message_id or make_msgid(domain="alder.test")
    for name, value in headers.items():
        email[name.replace("_", "-")] = value
    if text is not None:
        email.set_content(text)
        if html is not None:
            email.add_alternative(html, subtype="html")
    elif html is not None:
        email.set_content(html, subtype="html")
    for name, content, maintype, subtype in files:
        email.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return email.as_bytes()


def tasks_of(shop, client=None):
    with agency_scope(shop["agency"]):
        return list(Task.objects.filter(client=client or shop["client"]).order_by("pk"))


# -- requests ----------------------------------------------------------------------------


def test_a_request_with_two_attachments_becomes_a_task_with_both_files(shop):
    raw = message(
        to=shop["address"],
        subject="[Bookkeeping] March receipts",
        text="Both receipts are attached.\n\nThanks, Ana",
        files=[
            ("receipt.pdf", PDF, "application", "pdf"),
            ("scan.png", PNG, "image", "png"),
        ],
    )
    received = inbound_mail_receive(raw)
    assert received.outcome == "requested"
    (task,) = tasks_of(shop)
    assert task.title == "March receipts"
    assert task.details == "Both receipts are attached.\n\nThanks, Ana"
    assert task.service == shop["books"]
    assert task.requested_by == shop["ana"].user
    assert task.status == "queued"
    with agency_scope(shop["agency"]):
        names = sorted(Attachment.objects.filter(task=task).values_list("name", flat=True))
        record = InboundMessage.objects.get()
    assert names == ["receipt.pdf", "scan.png"]
    assert (record.outcome, record.task_id) == ("requested", task.pk)
    assert mail.outbox == []  # nothing was refused, so nothing to say


def test_an_html_only_message_is_read_as_text(shop):
    raw = message(
        to=shop["address"],
        subject="[Inbox management] Tidy up",
        text=None,
        html="<html><head><style>p{color:red}</style></head><body><p>Hello,</p>"
        "<p>Please archive <b>everything</b> from 2024.</p><ul><li>Newsletters</li>"
        "<li>Receipts</li></ul></body></html>",
    )
    assert inbound_mail_receive(raw).outcome == "requested"
    (task,) = tasks_of(shop)
    assert task.details == (
        "Hello,\n\nPlease archive everything from 2024.\n\n- Newsletters\n- Receipts"
    )
    assert "<" not in task.details and "color" not in task.details


def test_the_address_tag_names_the_service(shop):
    local, domain = shop["address"].split("@")
    raw = message(to=f"{local}+inbox-management@{domain}", subject="Unsubscribe me")
    assert inbound_mail_receive(raw).outcome == "requested"
    (task,) = tasks_of(shop)
    assert (task.service, task.title) == (shop["inbox"], "Unsubscribe me")


def test_the_subject_names_the_service_by_name_or_category(shop):
    inbound_mail_receive(message(to=shop["address"], subject="[inbox MANAGEMENT] Sort it"))
    inbound_mail_receive(message(to=shop["address"], subject="[Finance] Pay the VAT"))
    first, second = tasks_of(shop)
    assert (first.service, first.title) == (shop["inbox"], "Sort it")
    assert (second.service, second.title) == (shop["books"], "Pay the VAT")


def test_a_client_with_one_service_needs_none_named(shop):
    raw = message(sender="ben@birch.test", to=shop["other_address"], subject="[Urgent] Payroll")
    assert inbound_mail_receive(raw).outcome == "requested"
    (task,) = tasks_of(shop, shop["other"])
    # A bracket that names no service stays in the title.
    assert (task.service, task.title) == (shop["books"], "[Urgent] Payroll")


def test_an_unclear_service_is_refused_with_how_to_name_it(shop):
    received = inbound_mail_receive(message(to=shop["address"], subject="Help"))
    assert (received.outcome, received.reason) == ("refused", "inbound_service_unclear")
    assert tasks_of(shop) == []
    (answer,) = mail.outbox
    assert answer.to == ["ana@alder.test"]
    assert "[Bookkeeping]" in answer.body and "Inbox management" in answer.body
    assert answer.extra_headers["Auto-Submitted"] == "auto-replied"


def test_an_unknown_tag_is_refused(shop):
    local, domain = shop["address"].split("@")
    received = inbound_mail_receive(
        message(to=f"{local}+legal@{domain}", subject="[Bookkeeping] x")
    )
    assert received.outcome == "refused"
    assert "“legal” is not one of your contracted services" in mail.outbox[0].body


def test_an_unknown_sender_is_refused_politely_and_nothing_is_made(shop):
    raw = message(sender="Eve <eve@elsewhere.test>", to=shop["address"], subject="[Bookkeeping] x")
    received = inbound_mail_receive(raw)
    assert (received.outcome, received.reason) == ("refused", "sender_unknown")
    assert tasks_of(shop) == []
    (answer,) = mail.outbox
    assert answer.to == ["eve@elsewhere.test"]
    assert "Nothing has been created" in answer.body
    with agency_scope(shop["agency"]):
        assert InboundMessage.objects.get().outcome == "refused"


def test_another_clients_member_cannot_request_for_this_client(shop):
    """Ben belongs to Birch: mail from his address to Alder's makes nothing for either,
    and he hears only what a stranger would."""
    raw = message(sender="ben@birch.test", to=shop["address"], subject="[Bookkeeping] x")
    assert inbound_mail_receive(raw).reason == "sender_unknown"
    assert tasks_of(shop) == [] and tasks_of(shop, shop["other"]) == []
    assert "Alder" not in mail.outbox[0].body


def test_a_member_of_another_agency_with_the_same_address_is_no_member_here(shop, other_agency):
    stranger = UserFactory(email="zed@zed.test")
    MembershipFactory(agency=other_agency, role=Role.CLIENT, user=stranger)
    raw = message(sender="zed@zed.test", to=shop["address"], subject="[Bookkeeping] x")
    assert inbound_mail_receive(raw).reason == "sender_unknown"


def test_staff_and_inactive_members_cannot_request_by_mail(shop):
    owner = MembershipFactory(agency=shop["agency"], role=Role.OWNER)
    raw = message(sender=owner.user.email, to=shop["address"], subject="[Bookkeeping] x")
    assert inbound_mail_receive(raw).reason == "sender_unknown"
    with scopes_disabled():
        shop["ana"].is_active = False
        shop["ana"].save()
    raw = message(to=shop["address"], subject="[Bookkeeping] x")
    assert inbound_mail_receive(raw).reason == "sender_unknown"
    assert tasks_of(shop) == []


def test_an_oversized_and_a_forbidden_file_are_named_and_the_rest_is_taken(shop):
    raw = message(
        to=shop["address"],
        subject="[Bookkeeping] Files",
        files=[
            ("ok.pdf", PDF, "application", "pdf"),
            ("huge.pdf", PDF + b"0" * 2048, "application", "pdf"),
            ("tool.exe", EXE, "application", "octet-stream"),
            ("fake.pdf", EXE, "application", "pdf"),
        ],
    )
    received = inbound_mail_receive(raw)
    assert received.outcome == "requested"
    assert received.refused_files == ["huge.pdf", "tool.exe", "fake.pdf"]
    (task,) = tasks_of(shop)
    with agency_scope(shop["agency"]):
        assert list(Attachment.objects.filter(task=task).values_list("name", flat=True)) == [
            "ok.pdf"
        ]
    (answer,) = mail.outbox
    assert "huge.pdf: Files may be at most" in answer.body
    assert "tool.exe: Files of type .exe cannot be attached" in answer.body
    assert "fake.pdf: This file's content is not that of a .pdf file" in answer.body
    assert answer.extra_headers["In-Reply-To"].endswith("@alder.test>")


def test_a_redelivered_message_makes_nothing_new(shop):
    raw = message(to=shop["address"], subject="[Bookkeeping] Once", message_id="<once@alder.test>")
    assert inbound_mail_receive(raw).outcome == "requested"
    assert inbound_mail_receive(raw).outcome == "duplicate"
    # The same Message-ID in a message that differs (a resend by the provider) still counts once.
    again = message(
        to=shop["address"], subject="[Bookkeeping] Twice", message_id="<once@alder.test>"
    )
    assert inbound_mail_receive(again).outcome == "duplicate"
    assert len(tasks_of(shop)) == 1


def test_a_refused_message_redelivered_is_not_answered_twice(shop):
    raw = message(sender="eve@elsewhere.test", to=shop["address"], message_id="<eve@x.test>")
    inbound_mail_receive(raw)
    assert inbound_mail_receive(raw).outcome == "duplicate"
    assert len(mail.outbox) == 1


def test_an_automatic_message_is_never_answered(shop):
    raw = message(sender="eve@elsewhere.test", to=shop["address"], Auto_Submitted="auto-replied")
    assert inbound_mail_receive(raw).outcome == "refused"
    assert mail.outbox == []


def test_an_unknown_or_replaced_address_receives_nothing(shop):
    raw = message(to=f"{'0' * 24}@{DOMAIN}", subject="[Bookkeeping] x")
    assert inbound_mail_receive(raw).outcome == "ignored"
    with agency_scope(shop["agency"]):
        client_intake_regenerate(
            agency=shop["agency"], actor=shop["ana"].user, client=shop["client"]
        )
    raw = message(to=shop["address"], subject="[Bookkeeping] x")
    assert inbound_mail_receive(raw).outcome == "ignored"
    assert tasks_of(shop) == [] and mail.outbox == []


def test_the_contract_rules_of_the_portal_apply(shop):
    """The portal's own service refuses what it refuses: a paused contract offers nothing."""
    with scopes_disabled():
        ServiceContract.objects.filter(client=shop["client"]).update(status="paused")
    received = inbound_mail_receive(message(to=shop["address"], subject="[Bookkeeping] x"))
    assert received.outcome == "refused"
    assert tasks_of(shop) == []


# -- replies -----------------------------------------------------------------------------


def _task_for(shop, **kwargs):
    with agency_scope(shop["agency"]):
        return task_services.task_request(
            agency=shop["agency"],
            actor=shop["ana"].user,
            client=shop["client"],
            service=shop["books"],
            title="Reconcile March",
            **kwargs,
        )


def test_notification_emails_about_a_task_carry_a_signed_reply_address(shop):
    task = _task_for(shop)
    with agency_scope(shop["agency"]):
        notification = Notification.objects.create(
            agency=shop["agency"],
            recipient=shop["ana"].user,
            kind="task_taken",
            target_type="tasks.task",
            target_id=task.pk,
            occasion="t",
            title="Taken",
            link="/",
            email_due_at="2026-03-10 12:00Z",
        )
        assert notification_email_send(agency=shop["agency"], notification_id=notification.pk)
    (sent,) = mail.outbox
    (reply_to,) = sent.reply_to
    assert reply_to == reply_address(
        agency_id=shop["agency"].pk, task_id=task.pk, membership_id=shop["ana"].pk
    )
    assert reply_to.startswith("reply+") and reply_to.endswith(f"@{DOMAIN}")
    assert len(reply_to.split("@")[0]) <= 64 and reply_to == reply_to.lower()


def test_other_notification_emails_have_no_reply_address(shop):
    with agency_scope(shop["agency"]):
        notification = Notification.objects.create(
            agency=shop["agency"],
            recipient=shop["ana"].user,
            kind="contract_ending",
            target_type="contracts.servicecontract",
            target_id=1,
            occasion="t",
            title="Ending",
            link="/",
            email_due_at="2026-03-10 12:00Z",
        )
        notification_email_send(agency=shop["agency"], notification_id=notification.pk)
    assert mail.outbox[0].reply_to == []


def test_a_reply_becomes_a_comment_without_its_quoted_history(shop):
    task = _task_for(shop)
    to = reply_address(agency_id=shop["agency"].pk, task_id=task.pk, membership_id=shop["ana"].pk)
    text = (
        "Yes, March only please.\n"
        "\n"
        "On Tue, 10 Mar 2026 at 11:00, Agency <no-reply@agency.test> wrote:\n"
        "> Someone has taken your request.\n"
        "> Follow it here.\n"
    )
    raw = message(
        to=to.upper(),  # a mail system that folds the address's case changes nothing
        subject="Re: Taken",
        text=text,
        files=[("statement.pdf", PDF, "application", "pdf")],
    )
    assert inbound_mail_receive(raw).outcome == "commented"
    with agency_scope(shop["agency"]):
        (comment,) = Comment.objects.filter(task=task)
        assert comment.body == "Yes, March only please."
        assert comment.author == shop["ana"].user and not comment.internal
        assert Attachment.objects.get(task=task).name == "statement.pdf"


def test_a_reply_to_a_question_is_the_answer(shop):
    task = _task_for(shop)
    member = shop["assistant"]
    with agency_scope(shop["agency"]):
        task_services.task_take(
            agency=shop["agency"], actor=member.user, membership=member, task=task
        )
        task_services.task_start(
            agency=shop["agency"], actor=member.user, membership=member, task=task
        )
        task_services.task_ask_client(
            agency=shop["agency"], actor=member.user, membership=member, task=task, question="Q1?"
        )
    to = reply_address(agency_id=shop["agency"].pk, task_id=task.pk, membership_id=shop["ana"].pk)
    inbound_mail_receive(message(to=to, subject="Re: question", text="Q1 only.\n> Q1?"))
    with agency_scope(shop["agency"]):
        task.refresh_from_db()
        assert task.status == "in_progress"
        assert task.comments.order_by("-pk").first().kind == Comment.Kind.ANSWER


def test_a_forged_reply_token_is_refused(shop):
    task = _task_for(shop)
    genuine = reply_address(
        agency_id=shop["agency"].pk, task_id=task.pk, membership_id=shop["ana"].pk
    )
    local, domain = genuine.split("@")
    value, signature = local.split(".")
    forged = f"{value}.{'0' * len(signature)}@{domain}"
    # Another task's id under this task's signature.
    other_task = value.rsplit("-", 2)[0] + "-zz-" + value.rsplit("-", 1)[1]
    moved = f"{other_task}.{signature}@{domain}"
    for to in (forged, moved, f"reply+nonsense@{domain}"):
        received = inbound_mail_receive(message(to=to, subject="Re: x", text="hi"))
        assert (received.outcome, received.reason) == ("refused", "reply_token_invalid")
    with agency_scope(shop["agency"]):
        assert not Comment.objects.exists()


def test_a_reply_from_anyone_but_the_tokens_member_is_refused(shop):
    task = _task_for(shop)
    to = reply_address(agency_id=shop["agency"].pk, task_id=task.pk, membership_id=shop["ana"].pk)
    received = inbound_mail_receive(message(sender="ben@birch.test", to=to, text="mine now"))
    assert (received.outcome, received.reason) == ("refused", "sender_not_recipient")
    # Ben's own token cannot reach a task of Alder's either.
    to = reply_address(agency_id=shop["agency"].pk, task_id=task.pk, membership_id=shop["ben"].pk)
    received = inbound_mail_receive(message(sender="ben@birch.test", to=to, text="mine now"))
    assert received.reason == "task_not_visible"
    with agency_scope(shop["agency"]):
        assert not Comment.objects.exists()


# -- quoted history and HTML -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, kept",
    [
        ("Fine.\n\nOn Mon, 9 Mar 2026, Bo <bo@x.test> wrote:\n> old\n> older", "Fine."),
        ("Fine.\n\nOn Mon, 9 Mar 2026 at 10:00, Bo Smith\n<bo@x.test> wrote:\n> old", "Fine."),
        ("Fine.\n-----Original Message-----\nFrom: Bo\nSent: Monday", "Fine."),
        ("Fine.\n\nFrom: Bo <bo@x.test>\nSent: Monday\nSubject: x", "Fine."),
        (
            "> question one\nanswer one\n> question two\nanswer two\n> sign-off",
            "answer one\nanswer two",
        ),
        ("Fine.\n-- \nAna, Alder Ltd", "Fine."),
        ("From: the top of my list\nmilk", "From: the top of my list\nmilk"),
    ],
)
def test_quoted_history_is_stripped(text, kept):
    assert strip_quoted(text) == kept


def test_html_quotes_are_marked_and_links_kept():
    text = html_to_text(
        '<p>See <a href="https://x.test/a">this</a>.</p><blockquote>old words</blockquote>'
    )
    assert text == "See this (https://x.test/a).\n\n> old words"
    assert strip_quoted(text) == "See this (https://x.test/a)."


# -- the webhook -------------------------------------------------------------------------


def signed(timestamp=None, token=None, key=KEY):
    # A token of its own each time: the cache that catches replays outlives a test on Redis.
    token = token or secrets.token_hex(25)
    timestamp = str(int(time.time() if timestamp is None else timestamp))
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": signature}


URL = "/inbound/email/mailgun/"


def test_a_signed_webhook_call_makes_the_request(shop, client):
    raw = message(to="someone@else.test", subject="[Bookkeeping] By webhook")
    data = {**signed(), "recipient": shop["address"], "body-mime": raw.decode()}
    response = client.post(URL + "mime", data)
    assert response.status_code == 200
    assert response.json() == {"outcome": "requested", "reason": ""}
    (task,) = tasks_of(shop)
    assert task.title == "By webhook"


def test_a_webhook_call_with_a_bad_signature_is_403(shop, client):
    raw = message(to=shop["address"], subject="[Bookkeeping] x").decode()
    for fields in (signed(key="wrong-key"), {**signed(), "signature": "0" * 64}):
        response = client.post(URL, {**fields, "body-mime": raw})
        assert response.status_code == 403
        assert response.json()["code"] == "inbound_signature_invalid"
    assert tasks_of(shop) == []


def test_a_stale_or_replayed_webhook_call_is_403(shop, client):
    raw = message(to=shop["address"], subject="[Bookkeeping] x").decode()
    response = client.post(URL, {**signed(timestamp=time.time() - 3600), "body-mime": raw})
    assert (response.status_code, response.json()["code"]) == (403, "inbound_stale")
    fresh = signed()
    assert client.post(URL, {**fresh, "body-mime": raw}).status_code == 200
    response = client.post(URL, {**fresh, "body-mime": raw})
    assert (response.status_code, response.json()["code"]) == (403, "inbound_replayed")
    assert len(tasks_of(shop)) == 1


def test_a_webhook_without_a_key_configured_refuses_everything(shop, client, settings):
    settings.INBOUND_EMAIL_SIGNING_KEY = ""
    response = client.post(URL, {**signed(), "body-mime": "x"})
    assert (response.status_code, response.json()["code"]) == (403, "inbound_not_configured")


@pytest.mark.parametrize(
    "fields, code",
    [
        ({}, "inbound_signature_missing"),
        ({"timestamp": "soon", "token": "t", "signature": "s"}, "inbound_signature_invalid"),
        ("signed-no-body", "inbound_message_missing"),
        ("signed-not-mail", "inbound_message_malformed"),
    ],
)
def test_a_malformed_webhook_call_is_a_400_with_a_reason(shop, client, fields, code):
    if fields == "signed-no-body":
        fields = signed()
    elif fields == "signed-not-mail":
        fields = {**signed(), "body-mime": "no headers at all"}
    response = client.post(URL, fields)
    assert response.json()["code"] == code
    assert response.status_code == (403 if code == "inbound_signature_invalid" else 400)
    assert response.json()["message"]


def test_the_webhook_answers_only_posts_and_known_providers(shop, client):
    assert client.get(URL).status_code == 405
    assert client.post("/inbound/email/postmark/", signed()).status_code == 404


# -- the Maildir command ----------------------------------------------------------------


def test_the_maildir_command_processes_and_moves_each_message(shop, tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(message(to=shop["address"], subject="[Bookkeeping] From the maildir"))
    box.add(message(sender="eve@elsewhere.test", to=shop["address"], subject="x"))
    box.add(b"\n\n")
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        call_command("read_inbound_mail", maildir=str(tmp_path / "Maildir"), stdout=stdout)
    assert out.read_text().strip() == "1 refused, 1 requested, 1 unreadable"
    assert [t.title for t in tasks_of(shop)] == ["From the maildir"]
    assert len(box) == 0
    assert len(box.get_folder("processed")) == 2 and len(box.get_folder("failed")) == 1
    # Read again (a copy put back by hand): still one task.
    box.add(box.get_folder("processed").get_bytes(next(iter(box.get_folder("processed").keys()))))
    call_command("read_inbound_mail", maildir=str(tmp_path / "Maildir"), stdout=out.open("w"))
    assert len(tasks_of(shop)) == 1


def test_the_maildir_command_refuses_a_path_that_is_no_maildir(tmp_path, db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="is not a Maildir"):
        call_command("read_inbound_mail", maildir=str(tmp_path))


# -- where the address is shown --------------------------------------------------------------


def test_the_client_sees_the_address_on_the_dashboard(shop, signed_in):
    page = signed_in(shop["ana"].user).get(reverse("dashboard", args=[shop["agency"].slug]))
    assert shop["address"] in page.content.decode()
    assert shop["other_address"] not in page.content.decode()


def test_staff_see_and_replace_the_address_on_the_client_page(shop, signed_in):
    owner = MembershipFactory(agency=shop["agency"], role=Role.OWNER)
    http = signed_in(owner.user)
    url = reverse("client_detail", args=[shop["agency"].slug, shop["client"].pk])
    assert shop["address"] in http.get(url).content.decode()
    response = http.post(
        reverse("client_intake_regenerate", args=[shop["agency"].slug, shop["client"].pk])
    )
    assert response.status_code == 302
    with scopes_disabled():
        token = ClientIntake.objects.get(client=shop["client"]).token
    assert token != shop["token"]
    assert f"{token}@{DOMAIN}" in http.get(url).content.decode()


def test_a_client_member_cannot_replace_the_address(shop, signed_in):
    response = signed_in(shop["ana"].user).post(
        reverse("client_intake_regenerate", args=[shop["agency"].slug, shop["client"].pk])
    )
    assert response.status_code == 403


def test_staff_reading_a_client_page_make_no_address(shop, signed_in):
    owner = MembershipFactory(agency=shop["agency"], role=Role.OWNER)
    fresh = ClientFactory(agency=shop["agency"], name="Cedar Ltd")
    url = reverse("client_detail", args=[shop["agency"].slug, fresh.pk])
    assert "Make an address" in signed_in(owner.user).get(url).content.decode()
    with scopes_disabled():
        assert not ClientIntake.objects.filter(client=fresh).exists()


def test_a_batch_of_notification_emails_gets_each_its_own_reply_address(shop):
    first, second = _task_for(shop), _task_for(shop)
    with agency_scope(shop["agency"]):
        rows = [
            Notification.objects.create(
                agency=shop["agency"],
                recipient=shop["ana"].user,
                kind="task_taken",
                target_type="tasks.task",
                target_id=task.pk,
                occasion="t",
                title="Taken",
                link="/",
                email_due_at="2026-03-10 12:00Z",
            )
            for task in (first, second)
        ]
        emails_send(agency=shop["agency"], notification_ids=[n.pk for n in rows])
    assert sorted(m.reply_to[0] for m in mail.outbox) == sorted(
        reply_address(agency_id=shop["agency"].pk, task_id=t.pk, membership_id=shop["ana"].pk)
        for t in (first, second)
    )


class FakeImap:
    """What the command asks of an IMAP server, over messages held in memory."""

    def __init__(self, messages):
        self.messages = dict(enumerate(messages, start=1))
        self.folders = {"processed": [], "failed": []}
        self.deleted = set()

    def __call__(self, host, port):
        assert (host, port) == ("imap.agency.test", 993)
        return self

    def login(self, user, password):
        assert (user, password) == ("inbound", "secret")

    def select(self, folder):
        return ("OK", [b"3"]) if folder == "INBOX" else ("NO", [b"no such folder"])

    def create(self, name):
        return "NO", [b"exists"]

    def uid(self, command, *args):
        if command == "SEARCH":
            return "OK", [
                b" ".join(str(u).encode() for u in self.messages if u not in self.deleted)
            ]
        uid = int(args[0])
        if command == "FETCH":
            return "OK", [(b"1 (UID %d BODY[] {n}" % uid, self.messages[uid]), b")"]
        if command == "COPY":
            self.folders[args[1]].append(self.messages[uid])
            return "OK", []
        if command == "STORE":
            self.deleted.add(uid)
            return "OK", []
        raise AssertionError(command)

    def expunge(self):
        for uid in self.deleted:
            self.messages.pop(uid)
        self.deleted = set()

    def logout(self):
        pass


def test_the_imap_command_processes_and_moves_each_message(shop, settings, monkeypatch, tmp_path):
    settings.INBOUND_IMAP_HOST = "imap.agency.test"
    settings.INBOUND_IMAP_USER, settings.INBOUND_IMAP_PASSWORD = "inbound", "secret"
    server = FakeImap(
        [
            message(to=shop["address"], subject="[Bookkeeping] From IMAP"),
            message(sender="eve@elsewhere.test", to=shop["address"]),
            b"\n",
        ]
    )
    monkeypatch.setattr("imaplib.IMAP4_SSL", server)
    out = tmp_path / "out.txt"
    with out.open("w") as stdout:
        call_command("read_inbound_mail", imap=True, stdout=stdout)
    assert out.read_text().strip() == "1 refused, 1 requested, 1 unreadable"
    assert [t.title for t in tasks_of(shop)] == ["From IMAP"]
    assert server.messages == {}
    assert (len(server.folders["processed"]), len(server.folders["failed"])) == (2, 1)


def test_the_imap_command_needs_a_host(db, settings):
    from django.core.management.base import CommandError

    settings.INBOUND_IMAP_HOST = ""
    with pytest.raises(CommandError, match="INBOUND_IMAP_HOST"):
        call_command("read_inbound_mail", imap=True)
