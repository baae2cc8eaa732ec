"""Audit completeness: every way to change data leaves an entry that says who (a person, or
the board / the system), when, through which channel and what changed.

WRITE_PATHS is the table of write paths; each row performs its write the way a user (or the
board, or cron) does and names the entry it must leave. The enumeration tests below collect
every write path the code offers — portal pages that are not read-only, API methods, admin
operations, management commands, background tasks and service functions — and fail when
one is missing from the table: a new write path needs its row here.

Where the entry lives:
- participant records: CompletionEvent (participants.models), activities and their MOC
  registrations: ActivityEvent (activities.models);
- reviewers' admin changes to reference data (providers, staff, boards, deadlines, roster):
  Django's admin log (LogEntry: user, time, object, changed fields);
- API keys, uploads and transmission batches carry their own who/when on the row
  (created_by/created_at, revoked_by/revoked_at, uploaded_by/uploaded_at,
  confirmed_by/confirmed_at; a batch's created_at, linked from each record it carried).
"""

import datetime as dt
import functools
import importlib
import inspect
import io
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command, get_commands
from django.test import RequestFactory
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from django_tasks.base import Task

from activities import services as activity_services
from activities import staff
from activities.models import (
    Activity,
    ActivityEvent,
    Board,
    Channel,
    Deadline,
    MocRegistration,
    PortalEvent,
    Provider,
    ProviderMembership,
)
from participants import apikeys, intake, reverification, statuses, transmission
from participants.models import (
    ApiKey,
    Completion,
    CompletionEvent,
    FollowUp,
    RosterEntry,
    TransmissionBatch,
    Upload,
)
from participants.services import follow_ups, records, roster, uploads
from participants.verification import VERIFICATION_PENDING

from .builders import (
    OMAR,
    accme,
    accme_document,
    activity_report,
    cells,
    delimited,
    learner_report,
    report,
    reports,
    tsv,
)
from .builders import xlsx as xlsx_file
from .conftest import (
    api_request,
    make_activity,
    make_completion,
    make_key,
    make_user,
    portal_patterns,
)
from .test_admin_completion import HEADER as ADMIN_IMPORT_HEADER
from .test_admin_completion import admin_entry
from .test_admin_forms import form_data
from .test_uploads import confirm
from .test_uploads import upload as upload_file
from .test_write_permissions import READ_ONLY

PROJECT_APPS = {"activities", "participants", "pars_portal"}
# Channels whose entries may have no person: the board's answers and scheduled work.
UNATTENDED = {Channel.BOARD, Channel.SYSTEM}
BOARD_TOKEN = "board-answer-token"


# --- What the portal recorded ------------------------------------------------------------


@dataclass
class Entry:
    source: str
    actor: object
    at: dt.datetime
    channel: str
    text: str

    def __repr__(self):
        return f"<{self.source} {self.channel} {self.actor} {self.at:%H:%M:%S} {self.text!r}>"


@dataclass
class Expect:
    """An entry the write must leave: this actor (None: the board or the system), this
    channel, and a description of the change containing `says`."""

    actor: object
    channel: str
    says: str


def _completion_entry(e: CompletionEvent) -> Entry:
    change = f"{e.from_status or 'new'} → {e.to_status}"
    text = f"record {e.completion_id}: {change}; {e.reason}; {json.dumps(e.detail)}"
    return Entry("CompletionEvent", e.actor, e.at, e.channel, text)


def _activity_entry(e: ActivityEvent) -> Entry:
    text = f"activity {e.activity.pars_id}: {e.action}; {json.dumps(e.changes)}"
    return Entry("ActivityEvent", e.actor, e.at, e.channel, text)


def _portal_entry(e: PortalEvent) -> Entry:
    return Entry("PortalEvent", e.actor, e.at, e.channel, f"{e.action}: {e.text}")


def _log_entry(e: LogEntry) -> Entry:
    verb = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}
    text = f"{verb[e.action_flag]} {e.content_type.name} {e.object_repr}: {e.get_change_message()}"
    return Entry("LogEntry", e.user, e.action_time, Channel.ADMIN, text)


class Trail:
    """Marks the moment before a write; afterwards, lists every entry recorded since."""

    def mark(self):
        self.started = timezone.now()
        self.ids = {
            model: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            for model in (CompletionEvent, ActivityEvent, LogEntry, TransmissionBatch, PortalEvent)
        }

    def since(self) -> list[Entry]:
        def new(model):
            return model.objects.filter(pk__gt=self.ids[model]).order_by("pk")

        entries = [_completion_entry(e) for e in new(CompletionEvent).select_related("actor")]
        entries += [_activity_entry(e) for e in new(ActivityEvent).select_related("activity")]
        entries += [_log_entry(e) for e in new(LogEntry).select_related("content_type", "user")]
        entries += [_portal_entry(e) for e in new(PortalEvent).select_related("actor")]
        for key in ApiKey.objects.filter(created_at__gte=self.started):
            text = f"API key {key.prefix} created ({key.mode}) for {key.provider_id}"
            entries.append(Entry("ApiKey", key.created_by, key.created_at, Channel.FORM, text))
        for key in ApiKey.objects.filter(revoked_at__gte=self.started):
            text = f"API key {key.prefix} revoked"
            entries.append(Entry("ApiKey", key.revoked_by, key.revoked_at, Channel.FORM, text))
        for up in Upload.objects.filter(uploaded_at__gte=self.started):
            text = f"upload {up.file_name} received ({up.file_format}, {up.size} bytes)"
            entries.append(Entry("Upload", up.uploaded_by, up.uploaded_at, Channel.UPLOAD, text))
        for up in Upload.objects.filter(confirmed_at__gte=self.started):
            text = f"upload {up.file_name} confirmed"
            entries.append(Entry("Upload", up.confirmed_by, up.confirmed_at, Channel.UPLOAD, text))
        for batch in new(TransmissionBatch):
            carried = Completion.objects.filter(transmitted_in=batch).values_list("pk", flat=True)
            text = (
                f"batch {batch.pk} to {batch.board.code}: {batch.additions} additions "
                f"{sorted(carried)}, {batch.deletions} deletions, {batch.status}"
            )
            entries.append(Entry("TransmissionBatch", None, batch.created_at, Channel.SYSTEM, text))
        return entries


# --- Acting like users -------------------------------------------------------------------


@pytest.fixture
def w(
    client_of, editor_a, reviewer, activity_a, provider_a, roster, settings, tmp_path, media_root
):
    """The world the write paths act in: provider A with a registered activity (MK, PS),
    its editor, a reviewer, the roster, a production API key and a board answer token."""
    settings.BOARD_ANSWER_TOKEN = BOARD_TOKEN
    settings.SIMULATED_BOARD = True
    secret = make_key(provider_a, editor_a, name="LMS")
    return SimpleNamespace(
        client_of=client_of, editor=editor_a, reviewer=reviewer, activity=activity_a,
        provider=provider_a, key=secret, trail=Trail(), tmp_path=tmp_path,
        settings=settings,
    )  # fmt: skip


def accepted(activity, **fields) -> Completion:
    return make_completion(activity, status=Completion.Status.ACCEPTED, **fields)


def participant_post(**overrides) -> dict:
    data = {
        "learner_id": "234567", "first_name": "Omar", "last_name": "Haddad", "birth_month": "2",
        "birth_day": "29", "completion_date": "2015-12-18", "credit_type": "MK",
        "moc_points": "10", "learner_permission": "on",
    }  # fmt: skip
    data.update(overrides)
    return data


def ok(response, *codes):
    assert response.status_code in (codes or (302,)), response.content.decode()[:2000]
    return response


def api_client(w):
    client = w.client_of(w.editor)
    client.logout()  # the API knows keys, not sessions
    return client


def api_post(w, body, content_type="application/json", path="/api/v1/learner-reports"):
    return ok(api_request(api_client(w), "post", path, w.key, body, content_type=content_type), 200)


def api_report(activity, *, action="add", who=OMAR):
    return reports(report(activity, who, action=action))


# Portal pages (channel "form"; reviewers' queue actions are "admin").


def activity_create(w):
    client = w.client_of(w.editor)
    w.trail.mark()
    ok(client.post(reverse("activity_create"), {
        "title": "Sepsis Bootcamp", "activity_type": "C", "start_date": "2016-01-10",
        "end_date": "2016-01-12", "reporting_year": "2016", "cme_credits": "12",
    }))  # fmt: skip
    assert Activity.objects.filter(title="Sepsis Bootcamp").exists()
    return [Expect(w.editor, Channel.FORM, '"title": "Sepsis Bootcamp"')]


def activity_edit(w):
    client = w.client_of(w.editor)
    data = {k: v for k, v in client.get(reverse("activity_edit", args=[w.activity.pars_id]))
            .context["form"].initial.items() if v is not None}  # fmt: skip
    data.update(title="Hypertension Update 2016")
    w.trail.mark()
    ok(client.post(reverse("activity_edit", args=[w.activity.pars_id]), data))
    return [Expect(w.editor, Channel.FORM, '["Hypertension Update", "Hypertension Update 2016"]')]


def registration_create(w):
    activity = make_activity(w.provider, w.editor, title="Not yet registered", points=None)
    board = Board.objects.get(code="ABIM")
    data = {"moc_points": "5", "credit_types": [board.credit_types.get(code="MK").pk]}
    data.update({f"attest_{s}": "on" for s in activity_services.Attestation.Statement.values})
    w.trail.mark()
    ok(w.client_of(w.editor).post(reverse("registration_create", args=[activity.pars_id]), data))
    return [Expect(w.editor, Channel.FORM, 'registered; {"board": "ABIM", "moc_points": "5')]


def registration_edit(w):
    activity = make_activity(w.provider, w.editor, title="Points to raise")
    board = Board.objects.get(code="ABIM")
    data = {"moc_points": "12.5", "credit_types": [board.credit_types.get(code="MK").pk]}
    w.trail.mark()
    ok(w.client_of(w.editor).post(reverse("registration_edit", args=[activity.pars_id]), data))
    return [Expect(w.editor, Channel.FORM, 'updated; {"moc_points": ["10", "12.5"]}')]


def registration_withdraw(w):
    activity = make_activity(w.provider, w.editor, title="Registered, no records")
    w.trail.mark()
    ok(w.client_of(w.editor).post(reverse("registration_withdraw", args=[activity.pars_id])))
    return [Expect(w.editor, Channel.FORM, f"activity {activity.pars_id}: withdrawn")]


def participant_add(w):
    w.trail.mark()
    url = reverse("participant_add", args=[w.activity.pars_id])
    ok(w.client_of(w.editor).post(url, participant_post()))
    return [Expect(w.editor, Channel.FORM, "new → accepted; Provisional verification")]


def completion_delete(w):
    record = accepted(w.activity)
    w.trail.mark()
    url = reverse("completion_delete", args=[record.pk])
    ok(w.client_of(w.editor).post(url, {"reason": "Entered for the wrong activity"}))
    return [Expect(w.editor, Channel.FORM, "accepted → deleted; Entered for the wrong activity")]


def completion_correct(w):
    record = make_completion(w.activity, first_name="Janet", status=Completion.Status.REJECTED)
    w.trail.mark()
    data = participant_post(
        learner_id="123456",
        first_name="Jane",
        last_name="Smith",
        birth_month="7",
        birth_day="14",
        completion_date="2015-10-31",
    )
    ok(w.client_of(w.editor).post(reverse("completion_correct", args=[record.pk]), data))
    new = Completion.objects.get(corrects=record)
    return [
        Expect(w.editor, Channel.FORM, f"record {record.pk}: rejected → deleted; Corrected by"),
        Expect(w.editor, Channel.FORM, f"record {new.pk}: new → accepted"),
    ]


UPLOADS = {
    # format: (file name, content builder); each adds Omar and the TSV also deletes Jane.
    "tsv": ("learners.txt", lambda a: tsv([cells(a, OMAR), cells(a, action="delete")])),
    "csv": ("learners.csv", lambda a: delimited([cells(a, OMAR)])),
    "xlsx": ("learners.xlsx", lambda a: xlsx_file([cells(a, OMAR)])),
    "xml": ("learners.xml", lambda a: learner_report(activity_report(a, OMAR))),
}


def _upload_and_confirm(w, file_format):
    jane = accepted(w.activity, completion_date=dt.date(2015, 12, 18))
    name, build = UPLOADS[file_format]
    client = w.client_of(w.editor)
    w.trail.mark()
    checked = upload_file(client, name, build(w.activity))
    assert checked.status == Upload.Status.PREVIEW, checked.message
    done = confirm(client, checked)
    assert done.status == Upload.Status.DONE, done.message
    expected = [
        Expect(w.editor, Channel.UPLOAD, f"upload {name} received ({file_format}"),
        Expect(w.editor, Channel.UPLOAD, f"upload {name} confirmed"),
        Expect(w.editor, Channel.UPLOAD, "new → accepted; Provisional verification"),
        Expect(w.editor, Channel.UPLOAD, f'"upload": {checked.pk}}}'),
    ]
    if file_format == "tsv":
        expected.append(
            Expect(w.editor, Channel.UPLOAD, f"record {jane.pk}: accepted → deleted; Deleted by")
        )
    return expected


def upload_retry(w):
    """An interrupted save, resumed: the records are the confirming editor's."""
    client = w.client_of(w.editor)
    checked = upload_file(client, "learners.csv", delimited([cells(w.activity, OMAR)]))
    killed = OSError("killed")
    with (
        mock.patch.object(uploads, "intake_write_plan", side_effect=killed),
        mock.patch.object(uploads, "intake_batches", side_effect=killed),
    ):
        failed = confirm(client, checked)
    assert failed.status == Upload.Status.FAILED
    w.trail.mark()
    ok(client.post(reverse("upload_retry", args=[failed.pk])))
    failed.refresh_from_db()
    assert failed.status == Upload.Status.DONE
    return [
        Expect(w.editor, Channel.UPLOAD, "new → accepted; Provisional verification"),
        Expect(w.editor, Channel.UPLOAD, f'{{"row": 2, "upload": {failed.pk}}}'),
        Expect(w.editor, Channel.UPLOAD, f"upload.resume: Upload {failed.pk} (learners.csv)"),
    ]


def upload_discard(w):
    """An upload dropped at its preview: nothing saved, and who dropped it is recorded."""
    client = w.client_of(w.editor)
    checked = upload_file(client, "learners.csv", delimited([cells(w.activity, OMAR)]))
    w.trail.mark()
    ok(client.post(reverse("upload_discard", args=[checked.pk])))
    checked.refresh_from_db()
    assert checked.status == Upload.Status.DISCARDED
    return [Expect(w.editor, Channel.UPLOAD, f"upload.discard: Upload {checked.pk}")]


def api_key_create_page(w):
    w.trail.mark()
    client = w.client_of(w.editor)
    ok(client.post(reverse("api_key_create"), {"name": "Moodle", "mode": "sandbox"}))
    return [Expect(w.editor, Channel.FORM, "created (sandbox)")]


def api_key_revoke_page(w):
    key = ApiKey.objects.get(provider=w.provider)
    w.trail.mark()
    ok(w.client_of(w.editor).post(reverse("api_key_revoke", args=[key.pk])))
    return [Expect(w.editor, Channel.FORM, f"API key {key.prefix} revoked")]


def _follow_up(w):
    record = make_completion(w.activity, status=Completion.Status.REJECTED,
                             status_reason="Rejected by ABIM: Unknown board ID (ID)")  # fmt: skip
    return FollowUp.objects.create(completion=record, reason=record.status_reason)


def review_assign(w):
    follow_up = _follow_up(w)
    w.trail.mark()
    url = reverse("review_detail", args=[follow_up.pk])
    ok(w.client_of(w.reviewer).post(url, {"action": "assign"}))
    return [Expect(w.reviewer, Channel.ADMIN, "rejected → rejected; Follow-up assigned to")]


def review_contact(w):
    follow_up = _follow_up(w)
    w.trail.mark()
    ok(w.client_of(w.reviewer).post(reverse("review_detail", args=[follow_up.pk]), {
        "action": "contact", "contacted_on": "2016-01-21", "method": "phone",
        "note": "Spoke with the CME coordinator",
    }))  # fmt: skip
    return [Expect(w.reviewer, Channel.ADMIN, "phone on 01/21/2016: Spoke with the CME")]


def review_resolve(w):
    follow_up = _follow_up(w)
    w.trail.mark()
    url = reverse("review_detail", args=[follow_up.pk])
    ok(w.client_of(w.reviewer).post(url, {"action": "resolve", "resolution": "unreachable"}))
    return [Expect(w.reviewer, Channel.ADMIN, "Follow-up resolved: Provider unreachable")]


def review_transmit(w):
    record = accepted(w.activity)
    w.trail.mark()
    ok(w.client_of(w.reviewer).post(reverse("review_transmit")))
    return [
        Expect(None, Channel.SYSTEM, f"1 additions [{record.pk}]"),
        # Who asked, in the portal's history and in the record's own.
        Expect(w.reviewer, Channel.ADMIN, "transmission.request"),
        Expect(w.reviewer, Channel.ADMIN, f"record {record.pk}: accepted → accepted; Sent to ABIM"),
    ]


def review_simulate_board(w):
    record = accepted(w.activity)
    transmission.transmit()
    w.trail.mark()
    ok(w.client_of(w.reviewer).post(reverse("review_simulate_board")))
    return [Expect(None, Channel.BOARD, f"record {record.pk}: accepted → accepted; Confirmed by")]


# A provider's staff page (a manager's changes are "form", a reviewer's "admin").
def _manager(w):
    manager = make_user("manager-a")
    ProviderMembership.objects.create(user=manager, provider=w.provider, role="manager")
    return manager


def staff_invite(w):
    manager = _manager(w)
    w.trail.mark()
    ok(w.client_of(manager).post(reverse("staff_invite", args=[w.provider.accme_id]), {
        "first_name": "Nina", "last_name": "Newman", "email": "nina@example.org",
        "role": "viewer",
    }))  # fmt: skip
    return [Expect(manager, Channel.FORM,
                   "staff.invite: Nina Newman (nina@example.org) invited to the staff of "
                   "Provider A (0001234) as viewer")]  # fmt: skip


def staff_role(w):
    manager = _manager(w)
    membership = ProviderMembership.objects.get(user=w.editor)
    w.trail.mark()
    url = reverse("staff_role", args=[w.provider.accme_id, membership.pk])
    ok(w.client_of(manager).post(url, {f"m{membership.pk}-role": "viewer"}))
    return [Expect(manager, Channel.FORM, "staff.role: editor-a@example.org at Provider A "
                   "(0001234): role changed from editor to viewer")]  # fmt: skip


def staff_role_by_reviewer(w):
    membership = ProviderMembership.objects.get(user=w.editor)
    w.trail.mark()
    url = reverse("staff_role", args=[w.provider.accme_id, membership.pk])
    ok(w.client_of(w.reviewer).post(url, {f"m{membership.pk}-role": "manager"}))
    return [Expect(w.reviewer, Channel.ADMIN, "role changed from editor to manager")]


def staff_deactivate(w):
    manager = _manager(w)
    membership = ProviderMembership.objects.get(user=w.editor)
    w.trail.mark()
    url = reverse("staff_deactivate", args=[w.provider.accme_id, membership.pk])
    ok(w.client_of(manager).post(url))
    return [Expect(manager, Channel.FORM, "staff.deactivate: editor-a@example.org removed from "
                   "the staff of Provider A (0001234); account deactivated")]  # fmt: skip


def staff_set_password(w):
    invited = staff.staff_invite(
        provider=w.provider,
        actor=_manager(w),
        role="editor",
        email="nina@example.org",
        first_name="Nina",
    ).membership.user
    client = w.client_of(invited)
    client.logout()
    form_url = client.get(staff.invitation_link(invited)).url  # Django's redirect to the form
    w.trail.mark()
    password = "a long passphrase of ours"
    ok(client.post(form_url, {"new_password1": password, "new_password2": password}))
    return [Expect(invited, Channel.FORM, "staff.accept: Nina (nina@example.org) set a password "
                   "and joined the staff of Provider A (0001234) as editor")]  # fmt: skip


# The web services (channel "api"; the actor is the editor who created the key).


def api_json(w):
    w.trail.mark()
    reply = api_post(w, api_report(w.activity)).json()
    assert reply["totals"]["created"] == 1, reply
    return [Expect(w.editor, Channel.API, "new → accepted")]


def api_xml(w):
    w.trail.mark()
    reply = api_post(w, learner_report(activity_report(w.activity, OMAR)), "application/xml")
    assert reply.json()["totals"]["created"] == 1, reply.json()
    return [Expect(w.editor, Channel.API, "new → accepted")]


def api_xml_path(w):
    w.trail.mark()
    reply = api_post(w, learner_report(activity_report(w.activity, OMAR)), "application/xml",
                     path="/api/v1/learner-reports/xml")  # fmt: skip
    assert reply.json()["totals"]["created"] == 1, reply.json()
    return [Expect(w.editor, Channel.API, "new → accepted")]


def api_json_delete_action(w):
    record = accepted(
        w.activity,
        learner_id="234567",
        first_name="Omar",
        last_name="Haddad",
        birth_month=2,
        birth_day=29,
        completion_date=dt.date(2015, 12, 18),
    )
    w.trail.mark()
    reply = api_post(w, api_report(w.activity, action="delete")).json()
    assert reply["totals"]["deleted"] == 1, reply
    return [Expect(w.editor, Channel.API, f"record {record.pk}: accepted → deleted; Deleted by")]


def api_delete(w):
    record = accepted(w.activity)
    client = api_client(w)
    w.trail.mark()
    response = api_request(
        client, "delete", f"completions/{record.pk}", w.key, {"reason": "LMS withdrew it"}
    )
    ok(response, 200)
    return [Expect(w.editor, Channel.API, "accepted → deleted; LMS withdrew it")]


def api_accme_save(w):
    client = api_client(w)
    w.trail.mark()
    document = learner_report_data(w.activity, OMAR)
    response = api_request(client, "post", "learner-activities", w.key, document)
    ok(response, 201)
    return [Expect(w.editor, Channel.API, "new → accepted")]


def api_accme_delete(w):
    record = accepted(w.activity)
    client = api_client(w)
    w.trail.mark()
    response = api_request(
        client, "delete", f"learner-activities/{record.learner_id}?reason=LMS%20withdrew%20it",
        w.key,
    )  # fmt: skip
    ok(response, 204)
    return [Expect(w.editor, Channel.API, "accepted → deleted; LMS withdrew it")]


def learner_report_data(activity, who) -> dict:
    """ACCME's learner report document (pars-spec §9) with one report."""
    return accme_document(accme(
        who, activity=activity, title=activity.title, provider=activity.provider.accme_id,
        organization=activity.provider.name, birth_year=1904, credit_id="ccid:lms:audit-1",
    ))  # fmt: skip


def api_board_answers(w):
    record = accepted(w.activity)
    transmission.transmit()
    client = api_client(w)
    w.trail.mark()
    answers = [{"recordId": record.pk, "result": "rejected", "reasonCode": "DOB",
                "reason": "Birth date does not match"}]  # fmt: skip
    response = api_request(client, "post", "board/answers", BOARD_TOKEN, answers)
    ok(response, 200)
    return [Expect(None, Channel.BOARD, "accepted → rejected; Rejected by ABIM: Birth date")]


# The reviewers' admin (channel "admin").


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def admin_completion_add(w):
    w.trail.mark()
    abim = Board.objects.get(code="ABIM")
    data = admin_entry(w.activity, abim, learner_id="234567", first_name="Omar",
                       last_name="Haddad", birth_month="2", birth_day="29")  # fmt: skip
    ok(w.client_of(w.reviewer).post(admin_url(Completion, "add"), data))
    return [Expect(w.reviewer, Channel.ADMIN, "new → accepted")]


def admin_completion_withdraw(w):
    record = accepted(w.activity)
    w.trail.mark()
    ok(w.client_of(w.reviewer).post(admin_url(Completion, "changelist"), {
        "action": "withdraw", "_selected_action": [record.pk], "confirm": "Withdraw",
        "reason": "Withdrawn by an ACCME reviewer",
    }))  # fmt: skip
    return [Expect(w.reviewer, Channel.ADMIN, "accepted → deleted; Withdrawn by an ACCME")]


def _admin_import(w, model, name, content, file_format):
    client = w.client_of(w.reviewer)
    w.trail.mark()
    preview = client.post(admin_url(model, "import"), {
        "format": str(file_format), "import_file": SimpleUploadedFile(name, content)
    })  # fmt: skip
    confirm_form = preview.context and preview.context.get("confirm_form")
    assert confirm_form is not None, preview.content.decode()[:3000]
    ok(client.post(admin_url(model, "process_import"), confirm_form.initial))


def admin_completion_import(file_format):
    def perform(w):
        line = f"add,{w.activity.pars_id},ABIM,234567,Omar,Haddad,2,29,12/18/2015,MK,10,,Y\n"
        text = ADMIN_IMPORT_HEADER + line
        if file_format == "csv":
            _admin_import(w, Completion, "records.csv", text.encode(), 0)
        else:
            rows = [r.split(",") for r in text.strip().split("\n")]
            _admin_import(w, Completion, "records.xlsx", xlsx_file(rows[1:], header=rows[0]), 1)
        return [Expect(w.reviewer, Channel.ADMIN, "new → accepted")]

    return perform


def admin_activity_change(w):
    client = w.client_of(w.reviewer)
    url = admin_url(Activity, "change", w.activity.pk)
    data = form_data(client.get(url))
    data["title"] = "Hypertension Update 2016"
    w.trail.mark()
    ok(client.post(url, data))
    return [
        Expect(w.reviewer, Channel.ADMIN, '["Hypertension Update", "Hypertension Update 2016"]')
    ]


def admin_activity_import(w):
    text = (
        "Provider ID,Provider Activity ID,Title,Activity Type,Start Date,End Date,"
        "Reporting Year,CME Credits\n"
        "1234,X-1,Sepsis Bootcamp,Course,01/10/2016,01/12/2016,2016,12\n"
    )
    _admin_import(w, Activity, "activities.csv", text.encode(), 0)
    return [Expect(w.reviewer, Channel.ADMIN, '"title": "Sepsis Bootcamp"')]


def admin_registration_withdraw(w):
    activity = make_activity(w.provider, w.editor, title="Registered, no records")
    registration = activity.registrations.get()
    w.trail.mark()
    ok(w.client_of(w.reviewer).post(admin_url(MocRegistration, "changelist"), {
        "action": "withdraw", "_selected_action": [registration.pk]
    }))  # fmt: skip
    registration.refresh_from_db()
    assert registration.status == MocRegistration.Status.WITHDRAWN
    return [Expect(w.reviewer, Channel.ADMIN, f"activity {activity.pars_id}: withdrawn")]


def _admin_save(w, model, view, values, *args, inline=None):
    """Open the admin page, change `values`, optionally add one inline row, save."""
    client = w.client_of(w.reviewer)
    url = admin_url(model, view, *args)
    data = form_data(client.get(url))
    data.update(values)
    if inline:
        prefix, row = inline
        number = int(data[f"{prefix}-TOTAL_FORMS"])
        data[f"{prefix}-TOTAL_FORMS"] = str(number + 1)
        data.update({f"{prefix}-{number}-{k}": v for k, v in row.items()})
    w.trail.mark()
    ok(client.post(url, data))


def admin_provider_add(w):
    values = {
        "accme_id": "0004321",
        "name": "Prairie Heart Institute",
        "accreditation_type": "accme",
    }
    _admin_save(w, Provider, "add", values)
    return [Expect(w.reviewer, Channel.ADMIN, "added provider Prairie Heart Institute (0004321)")]


def admin_provider_change(w):
    newcomer = make_user("newcomer")
    _admin_save(w, Provider, "change", {"name": "Provider A (renamed)"}, w.provider.pk,
                inline=("memberships", {"user": newcomer.pk, "role": "viewer"}))  # fmt: skip
    return [Expect(w.reviewer, Channel.ADMIN, "Changed Name. Added provider staff membership")]


def admin_membership_add(w):
    newcomer = make_user("newcomer")
    values = {"user": newcomer.pk, "provider": w.provider.pk, "role": "editor"}
    _admin_save(w, ProviderMembership, "add", values)
    return [Expect(w.reviewer, Channel.ADMIN, "added provider staff membership newcomer")]


def admin_membership_change(w):
    membership = ProviderMembership.objects.get(user=w.editor)
    _admin_save(w, ProviderMembership, "change", {"role": "viewer"}, membership.pk)
    return [
        Expect(w.reviewer, Channel.ADMIN, "Changed Role."),
        Expect(w.reviewer, Channel.ADMIN, "providermembership.change: Provider staff membership"),
    ]


def admin_membership_delete(w):
    membership = ProviderMembership.objects.get(user=w.editor)
    w.trail.mark()
    url = admin_url(ProviderMembership, "delete", membership.pk)
    ok(w.client_of(w.reviewer).post(url, {"post": "yes"}))
    return [Expect(w.reviewer, Channel.ADMIN, "deleted provider staff membership editor-a")]


def admin_membership_delete_selected(w):
    membership = ProviderMembership.objects.get(user=w.editor)
    w.trail.mark()
    ok(w.client_of(w.reviewer).post(admin_url(ProviderMembership, "changelist"), {
        "action": "delete_selected", "_selected_action": [membership.pk], "post": "yes",
    }))  # fmt: skip
    assert not ProviderMembership.objects.filter(pk=membership.pk).exists()
    return [Expect(w.reviewer, Channel.ADMIN, "deleted provider staff membership editor-a")]


def admin_board_add(w):
    values = {"code": "ABP", "name": "American Board of Pediatrics",
              "board_id_pattern": r"^\d{6}$", "board_id_description": "6 digits"}  # fmt: skip
    _admin_save(w, Board, "add", values)
    return [Expect(w.reviewer, Channel.ADMIN, "added board ABP")]


def admin_board_change(w):
    abim = Board.objects.get(code="ABIM")
    _admin_save(
        w,
        Board,
        "change",
        {"board_id_description": "six digits"},
        abim.pk,
        inline=("credit_types", {"code": "QI", "label": "Quality Improvement"}),
    )
    return [
        Expect(w.reviewer, Channel.ADMIN, "Changed Board ID description. Added credit type"),
        Expect(w.reviewer, Channel.ADMIN, "board.change: Board ABIM changed: Changed Board ID"),
    ]


def admin_deadline_add(w):
    Deadline.objects.filter(year=2031).delete()
    _admin_save(w, Deadline, "add", {"year": "2031", "due_date": "2031-12-31"})
    return [Expect(w.reviewer, Channel.ADMIN, "added deadline 2031: due 12/31/2031")]


def admin_deadline_change(w):
    deadline = Deadline.objects.get(year=2016)
    _admin_save(w, Deadline, "change", {"note": "Extended by ACCME"}, deadline.pk)
    return [
        Expect(w.reviewer, Channel.ADMIN, "changed deadline 2016: due 12/31/2016: Changed Note."),
        Expect(w.reviewer, Channel.ADMIN, "deadline.change: Deadline 2016"),
    ]


def admin_roster_add(w):
    values = {
        "board": Board.objects.get(code="ABIM").pk,
        "learner_id": "456789",
        "first_name": "Ada",
        "last_name": "Okafor",
        "birth_month": "3",
        "birth_day": "9",
    }
    _admin_save(w, RosterEntry, "add", values)
    return [
        Expect(w.reviewer, Channel.ADMIN, "added board roster entry 456789 Okafor, Ada"),
        Expect(w.reviewer, Channel.ADMIN, "rosterentry.add: Board roster entry 456789"),
    ]


def admin_roster_change(w):
    entry = RosterEntry.objects.get(learner_id="123456")
    _admin_save(w, RosterEntry, "change", {"birth_day": "15"}, entry.pk)
    return [Expect(w.reviewer, Channel.ADMIN, "Changed Birth day.")]


# Management commands and scheduled work (channel "board" or "system").


def command_ingest_board_answers(w):
    record = accepted(w.activity)
    transmission.transmit()
    answers = w.tmp_path / "answers.json"
    answers.write_text(json.dumps({"answers": [{"recordId": record.pk, "result": "accepted"}]}))
    w.trail.mark()
    call_command("ingest_board_answers", str(answers))
    return [Expect(None, Channel.BOARD, f"record {record.pk}: accepted → accepted; Confirmed by")]


def command_load_roster(w):
    roster = w.tmp_path / "roster.csv"
    roster.write_text("board_id,first_name,last_name,birth_month,birth_day\n"
                      "456789,Ada,Okafor,3,9\n")  # fmt: skip
    w.trail.mark()
    call_command("load_roster", str(roster), stdout=io.StringIO())
    return [Expect(None, Channel.SYSTEM, "roster.load: Board roster loaded: 1 rows, 1 new")]


def command_transmit(w):
    record = accepted(w.activity)
    deleted = make_completion(
        w.activity, credit="PS", status=Completion.Status.DELETED, transmitted_at=timezone.now()
    )
    w.trail.mark()
    call_command("transmit")
    batch = TransmissionBatch.objects.get()
    assert Completion.objects.get(pk=deleted.pk).deletion_transmitted_in == batch
    return [
        Expect(None, Channel.SYSTEM, f"1 additions [{record.pk}], 1 deletions"),
        Expect(None, Channel.SYSTEM, f"record {record.pk}: accepted → accepted; Sent to ABIM in"),
        Expect(None, Channel.SYSTEM, f"record {deleted.pk}: deleted → deleted; Deletion sent"),
        Expect(None, Channel.SYSTEM, "transmission.send: Batch"),
    ]


def command_verify_pending(w):
    record = make_completion(w.activity, status_reason=VERIFICATION_PENDING)
    w.trail.mark()
    call_command("verify_pending")
    return [Expect(None, Channel.SYSTEM, f"record {record.pk}: submitted → accepted")]


def command_simulate_board(w):
    record = accepted(w.activity, first_name="Janet")
    transmission.transmit()
    w.trail.mark()
    call_command("simulate_board")
    return [Expect(None, Channel.BOARD, f"record {record.pk}: accepted → rejected; Rejected by")]


def command_load_demo(w):
    w.trail.mark()
    with mock.patch("pars_portal.management.commands.load_demo.ROSTER_SIZE", 10):
        call_command("load_demo", stdout=io.StringIO())
    editor = Provider.objects.get(accme_id="0005678").memberships.get(role="editor").user
    return [
        Expect(editor, Channel.SYSTEM, "created;"),
        Expect(editor, Channel.SYSTEM, "registered;"),
    ]


def superuser_group_add(w):
    """Other apps' admins (users, groups, login attempts, task results) are for superusers
    only; Django's admin logs what they change."""
    boss = make_user("boss")
    boss.is_superuser = boss.is_staff = True
    boss.save()
    w.reviewer = boss
    _admin_save(w, Group, "add", {"name": "auditors"})
    return [Expect(boss, Channel.ADMIN, "added group auditors")]


WRITE_PATHS: dict[str, Callable] = {
    "form: create activity": activity_create,
    "form: edit activity": activity_edit,
    "form: register for MOC": registration_create,
    "form: change a registration": registration_edit,
    "form: withdraw registration": registration_withdraw,
    "form: enter a participant": participant_add,
    "form: delete a record": completion_delete,
    "form: correct a record": completion_correct,
    **{
        f"upload: {f} file, preview and confirm": functools.partial(
            _upload_and_confirm, file_format=f
        )
        for f in UPLOADS
    },
    "upload: resume an interrupted save": upload_retry,
    "upload: discard at the preview": upload_discard,
    "form: create an API key": api_key_create_page,
    "form: revoke an API key": api_key_revoke_page,
    "staff page: invite someone": staff_invite,
    "staff page: change a role": staff_role,
    "staff page: a reviewer changes a role": staff_role_by_reviewer,
    "staff page: deactivate someone": staff_deactivate,
    "invitation: set a password": staff_set_password,
    "reviewer queue: assign": review_assign,
    "reviewer queue: log contact": review_contact,
    "reviewer queue: resolve": review_resolve,
    "reviewer queue: send to ABIM now": review_transmit,
    "reviewer queue: simulated board answers": review_simulate_board,
    "api: learner reports (JSON)": api_json,
    "api: learner reports (XML)": api_xml,
    "api: learner reports/xml": api_xml_path,
    "api: learner reports, action delete": api_json_delete_action,
    "api: DELETE a completion": api_delete,
    "api: learner activities (ACCME's JSON)": api_accme_save,
    "api: DELETE learner activities": api_accme_delete,
    "api: board answers": api_board_answers,
    "admin: add a completion": admin_completion_add,
    "admin: action withdraw completions": admin_completion_withdraw,
    "admin: import completions (CSV)": admin_completion_import("csv"),
    "admin: import completions (XLSX)": admin_completion_import("xlsx"),
    "admin: change an activity": admin_activity_change,
    "admin: import activities": admin_activity_import,
    "admin: action withdraw registrations": admin_registration_withdraw,
    "admin: add a provider": admin_provider_add,
    "admin: change a provider and its staff": admin_provider_change,
    "admin: add staff membership": admin_membership_add,
    "admin: change staff membership": admin_membership_change,
    "admin: delete staff membership": admin_membership_delete,
    "admin: action delete staff memberships": admin_membership_delete_selected,
    "admin: add a board": admin_board_add,
    "admin: change a board and its credit types": admin_board_change,
    "admin: add a deadline": admin_deadline_add,
    "admin: change a deadline": admin_deadline_change,
    "admin: add a roster entry": admin_roster_add,
    "admin: change a roster entry": admin_roster_change,
    "admin (superuser): add a group": superuser_group_add,
    "command: ingest_board_answers": command_ingest_board_answers,
    "command: transmit": command_transmit,
    "command: verify_pending": command_verify_pending,
    "command: simulate_board": command_simulate_board,
    "command: load_demo": command_load_demo,
    "command: load_roster": command_load_roster,
}


@pytest.mark.parametrize("path", list(WRITE_PATHS))
def test_write_path_leaves_who_when_channel_and_what(w, path):
    expected = WRITE_PATHS[path](w)
    finished = timezone.now()
    entries = w.trail.since()
    assert entries, f"{path}: the write left no entry at all"
    for entry in entries:
        assert w.trail.started <= entry.at <= finished, entry
        assert entry.channel in Channel.values, entry
        assert entry.text.strip(), entry
        assert entry.actor is not None or entry.channel in UNATTENDED, f"no actor: {entry}"
    for want in expected:
        found = [
            e for e in entries
            if e.actor == want.actor and e.channel == want.channel and want.says in e.text
        ]  # fmt: skip
        assert found, f"{path}: no entry {want} among\n" + "\n".join(map(repr, entries))


# --- The enumeration: every write path the code offers is in the table ---------------------

_upload = [f"upload: {f} file, preview and confirm" for f in UPLOADS]
# Portal pages that are not read-only (tests/test_write_permissions.READ_ONLY): their rows.
PORTAL_WRITES = {
    "activity_create": ["form: create activity"],
    "activity_edit": ["form: edit activity"],
    "registration_create": ["form: register for MOC"],
    "registration_edit": ["form: change a registration"],
    # The entry form's roster check: saves no record (its failures count towards the
    # provider's roster limit: tests/test_sign_in_sheet.py).
    "learner_check": [],
    "registration_withdraw": ["form: withdraw registration"],
    "participant_add": ["form: enter a participant"],
    "completion_delete": ["form: delete a record"],
    "completion_correct": ["form: correct a record"],
    "upload_create": _upload,
    "upload_confirm": _upload,
    "upload_retry": ["upload: resume an interrupted save"],
    "upload_discard": ["upload: discard at the preview"],
    "api_key_create": ["form: create an API key"],
    # The page the creation redirects to (shows the secret once): part of the same row.
    "api_key_created": ["form: create an API key"],
    "api_key_revoke": ["form: revoke an API key"],
    "staff_invite": ["staff page: invite someone"],
    "staff_role": ["staff page: change a role", "staff page: a reviewer changes a role"],
    "staff_deactivate": ["staff page: deactivate someone"],
    "review_detail": [
        "reviewer queue: assign",
        "reviewer queue: log contact",
        "reviewer queue: resolve",
    ],  # fmt: skip
    "review_transmit": ["reviewer queue: send to ABIM now"],
    "review_simulate_board": ["reviewer queue: simulated board answers"],
}
# Login pages (accounts/ and the admin's own): a person's session and password, not PARS
# data. django-axes records every login attempt (tests/test_security.py); a password
# change leaves no history entry (Django's default).
ACCOUNT_PAGES = {
    "login", "logout", "password_change", "password_change_done", "password_reset",
    "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "admin:login", "admin:logout", "admin:password_change", "admin:password_change_done",
    # An invitation's link: setting the password is in the history (a row of WRITE_PATHS).
    "staff_set_password",
}  # fmt: skip
# API methods that change data, and those that only read even though they are a POST.
API_WRITES = {
    ("api_learner_reports", "post"): [
        "api: learner reports (JSON)", "api: learner reports (XML)",
        "api: learner reports, action delete",
    ],
    ("api_completion", "delete"): ["api: DELETE a completion"],
    ("api_learner_reports_xml", "post"): ["api: learner reports/xml"],
    ("api_learner_activities", "post"): ["api: learner activities (ACCME's JSON)"],
    ("api_learner_activity", "delete"): ["api: DELETE learner activities"],
    ("api_board_answers", "post"): ["api: board answers"],
}  # fmt: skip
API_POSTS_THAT_ONLY_READ = {("api_learner_match", "post")}
# Admin operations open to reviewers on the project's models.
ADMIN_WRITES = {
    ("participants.Completion", "add"): ["admin: add a completion"],
    ("participants.Completion", "action:withdraw"): ["admin: action withdraw completions"],
    ("participants.Completion", "import"): [
        "admin: import completions (CSV)", "admin: import completions (XLSX)"
    ],
    ("activities.Activity", "change"): ["admin: change an activity"],
    ("activities.Activity", "import"): ["admin: import activities"],
    ("activities.MocRegistration", "action:withdraw"): ["admin: action withdraw registrations"],
    ("activities.Provider", "add"): ["admin: add a provider"],
    ("activities.Provider", "change"): ["admin: change a provider and its staff"],
    ("activities.Provider", "inline:activities.ProviderMembership"): [
        "admin: change a provider and its staff"
    ],
    ("activities.ProviderMembership", "add"): ["admin: add staff membership"],
    ("activities.ProviderMembership", "change"): ["admin: change staff membership"],
    ("activities.ProviderMembership", "delete"): ["admin: delete staff membership"],
    ("activities.ProviderMembership", "action:delete_selected"): [
        "admin: action delete staff memberships"
    ],
    ("activities.Board", "add"): ["admin: add a board"],
    ("activities.Board", "change"): ["admin: change a board and its credit types"],
    ("activities.Board", "inline:activities.CreditType"): [
        "admin: change a board and its credit types"
    ],
    ("activities.Deadline", "add"): ["admin: add a deadline"],
    ("activities.Deadline", "change"): ["admin: change a deadline"],
    ("participants.RosterEntry", "add"): ["admin: add a roster entry"],
    ("participants.RosterEntry", "change"): ["admin: change a roster entry"],
}  # fmt: skip
# Other apps' admins are for superusers (Django's admin logs their changes); reviewers may
# only look at users and groups, and do not see login attempts nor task results at all
# (django-axes' housekeeping action included: pars_portal.lib.admin.SUPERUSER_ONLY_APPS).
THIRD_PARTY_REVIEWER_OPERATIONS: dict[str, set[str]] = {}
# Management commands of the project's apps, the benchmarks app's (development only) included.
COMMAND_APPS = PROJECT_APPS | {"pars_portal.benchmarks"}
COMMANDS = {
    "load_roster": ["command: load_roster"],
    "ingest_board_answers": ["command: ingest_board_answers"],
    "transmit": ["command: transmit"],
    "verify_pending": ["command: verify_pending"],
    "simulate_board": ["command: simulate_board"],
    "load_demo": ["command: load_demo"],
}
COMMANDS_WITHOUT_HISTORY = {
    "bench_import": "benchmark: writes only to a scratch SQLite database it creates",
    "bench_api": "benchmark: writes only to a scratch SQLite database it creates",
    "bench_load": "load test: writes only to a scratch database it creates",
    "bench_dashboard": "benchmark: writes only to a scratch database it creates (or one kept "
    "with --keep)",
    "bench_upload": "benchmark: writes only to a scratch database it creates",
    "find_unwritable_text": "reads only: lists stored text exports cannot hold",
    "run_workers": "runs the task workers; the tasks they run are in TASKS",
    "task_worker": "runs tasks; the tasks it runs are in TASKS",
}
# Background tasks: the write path each one belongs to.
TASKS = {
    "check_upload": _upload,
    "commit_upload": [*_upload, "upload: resume an interrupted save"],
    "verify_pending": ["command: verify_pending"],
    "transmit_to_board": ["reviewer queue: send to ABIM now"],
    "send_rejection_digests": [],  # sends email, writes nothing
}
# Service functions (where writes happen): the rows that exercise them; [] = reads only.
SERVICES = {
    activity_services: {
        "activity_create": ["form: create activity", "admin: import activities",
                            "command: load_demo"],
        "activity_update": ["form: edit activity", "admin: change an activity"],
        "registration_create": ["form: register for MOC", "command: load_demo"],
        "registration_update": ["form: change a registration"],
        "registration_withdraw": ["form: withdraw registration",
                                  "admin: action withdraw registrations"],
        "portal_event_record": ["command: load_roster", "command: transmit",
                                "reviewer queue: send to ABIM now",
                                "upload: resume an interrupted save",
                                "admin: change a deadline"],
    },
    staff: {
        "staff_invite": ["staff page: invite someone", "invitation: set a password"],
        "staff_role_change": ["staff page: change a role",
                              "staff page: a reviewer changes a role"],
        "staff_deactivate": ["staff page: deactivate someone"],
        "invitation_accept": ["invitation: set a password"],
        "invitation_link": [], "staff_of": [],
    },
    records: {
        "completion_delete": ["form: delete a record", "api: DELETE a completion",
                              "api: DELETE learner activities",
                              "admin: action withdraw completions"],
        "completion_check_writable": [],
    },
    uploads: {
        "upload_create": _upload, "upload_check": _upload, "upload_confirm": _upload,
        "upload_commit": _upload, "upload_retry": ["upload: resume an interrupted save"],
        "upload_discard": ["upload: discard at the preview"], "outcome_kinds": [],
        "upload_issue_phase": [],
    },
    reverification: {"completions_verify_pending": ["command: verify_pending"]},
    follow_ups: {
        "follow_up_assign": ["reviewer queue: assign"],
        "follow_up_log_contact": ["reviewer queue: log contact"],
        "follow_up_resolve": ["reviewer queue: resolve"],
    },
    roster: {"roster_load": ["command: load_roster"]},
    statuses: {
        "completions_status_change": ["form: delete a record", "api: board answers",
                                      "command: verify_pending"],
        "completions_note": ["command: transmit", "reviewer queue: assign"],
        "completions_intake_write": ["form: enter a participant", *_upload],
        "rejections_tell": _upload,
    },
    intake: {
        "intake_submit": ["form: enter a participant", "api: learner reports (JSON)",
                          "admin: add a completion", "admin: import completions (CSV)"],
        "intake_batches": _upload,
        "intake_write_plan": _upload,
        "intake_world": [],
    },
    transmission: {
        "transmit": ["command: transmit", "reviewer queue: send to ABIM now"],
        "ingest_answers": ["api: board answers", "command: ingest_board_answers",
                           "command: simulate_board"],
        "simulated_board_answers": [], "answers_from_file": [],
    },
    apikeys: {
        "api_key_create": ["form: create an API key"],
        "api_key_revoke": ["form: revoke an API key"],
        "hash_key": [],
    },
}  # fmt: skip


def _rows(mapping) -> set[str]:
    return {row for rows in mapping.values() for row in rows}


def test_every_row_named_by_the_enumerations_exists():
    named = _rows(PORTAL_WRITES) | _rows(API_WRITES) | _rows(ADMIN_WRITES) | _rows(COMMANDS)
    named |= _rows(TASKS) | {row for m in SERVICES.values() for row in _rows(m)}
    assert named - set(WRITE_PATHS) == set()


def test_every_portal_page_is_read_only_or_a_write_path_in_the_table():
    """A new page fails here until it is listed: read-only pages in
    tests/test_write_permissions.READ_ONLY, pages that write in PORTAL_WRITES."""
    names = {p.name for p in portal_patterns()}
    assert names - READ_ONLY == set(PORTAL_WRITES)
    assert names >= READ_ONLY  # nothing stale


def _included(prefix):
    resolver = next(
        p for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == prefix
    )  # fmt: skip
    return resolver.url_patterns


def test_every_login_page_is_known():
    names = {p.name for p in _included("accounts/")}
    names |= {f"admin:{n}" for n in ("login", "logout", "password_change", "password_change_done")}
    assert names == ACCOUNT_PAGES


WRITE_METHODS = ("post", "put", "patch", "delete")


def test_every_api_method_that_changes_data_is_in_the_table():
    found = set()
    for pattern in _included("api/v1/"):
        view = getattr(pattern.callback, "cls", None)
        for method in WRITE_METHODS:
            if view is not None and hasattr(view, method):
                found.add((pattern.name, method))
    assert found == set(API_WRITES) | API_POSTS_THAT_ONLY_READ


def test_api_posts_that_only_read_write_nothing(w):
    """learner-match compares a learner with the roster: nothing is stored."""
    before = snapshot()
    response = api_request(
        api_client(w), "post", "learner-match", w.key,
        {"boardId": "123456", "firstName": "Jane", "lastName": "Smith", "birthMonth": 7,
         "birthDay": 14},
    )  # fmt: skip
    assert response.json() == {"result": "match"}
    assert snapshot() == before


def snapshot():
    models = (
        Completion,
        CompletionEvent,
        Activity,
        ActivityEvent,
        MocRegistration,
        Upload,
        FollowUp,
        RosterEntry,
        Provider,
        ProviderMembership,
        LogEntry,
        TransmissionBatch,
    )
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_read_only_pages_write_nothing_when_posted_to(w, name):
    """READ_ONLY is what the enumeration trusts: posting to those pages changes nothing."""
    record = accepted(w.activity)
    upload = Upload.objects.create(
        provider=w.provider, uploaded_by=w.editor, file="x.csv", file_name="x.csv",
        file_format="csv", sha256="0" * 64, status=Upload.Status.PREVIEW,
    )  # fmt: skip
    pattern = next(p for p in portal_patterns() if getattr(p, "name", None) == name)
    values = {"pars_id": w.activity.pars_id, "pk": record.pk, "upload_id": upload.pk,
              "file_format": "csv", "accme_id": w.provider.accme_id}  # fmt: skip
    missing = set(pattern.pattern.converters) - set(values)
    assert not missing, f"teach this test which object fills {missing}"
    url = reverse(name, kwargs={k: values[k] for k in pattern.pattern.converters})
    before = snapshot()
    for user in (w.editor, w.reviewer):
        w.client_of(user).post(url, {"reason": "x", "title": "x", "action": "assign"})
    assert snapshot() == before


def _reviewer_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def admin_operations(model_admin, request) -> set[str]:
    ops = set()
    for op in ("add", "change", "delete"):
        if getattr(model_admin, f"has_{op}_permission")(request):
            ops.add(op)
    ops |= {f"action:{name}" for name in model_admin.get_actions(request)}
    if hasattr(model_admin, "has_import_permission") and model_admin.has_import_permission(request):
        ops.add("import")
    for inline in model_admin.get_inline_instances(request):
        if any(
            getattr(inline, f"has_{op}_permission")(request, None)
            for op in ("add", "change", "delete")
        ):
            ops.add(f"inline:{inline.model._meta.label}")
    return ops


def test_every_admin_operation_open_to_reviewers_is_in_the_table(reviewer):
    """Also for superusers (who count as reviewers): the project's admins give them the
    same operations; other apps' admins give reviewers none."""
    boss = make_user("boss")
    boss.is_superuser = boss.is_staff = True
    boss.save()
    found, third_party = set(), {}
    for model, model_admin in admin.site._registry.items():
        for user in (reviewer, boss):
            ops = admin_operations(model_admin, _reviewer_request(user))
            if model._meta.app_label in PROJECT_APPS:
                found |= {(model._meta.label, op) for op in ops}
            elif user is reviewer and ops:
                third_party[model._meta.label] = ops
    assert found == set(ADMIN_WRITES)
    assert third_party == THIRD_PARTY_REVIEWER_OPERATIONS


def test_every_management_command_of_the_project_is_in_the_table():
    ours = {name for name, app in get_commands().items() if app in COMMAND_APPS}
    assert ours - set(COMMANDS) - set(COMMANDS_WITHOUT_HISTORY) == set()
    assert set(COMMANDS) <= ours


def _modules_of(package: str) -> list:
    """Every module of an app (where its tasks are defined beside their work)."""
    root = importlib.import_module(package)
    names = [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]
    return [importlib.import_module(n) for n in names if ".migrations" not in n]


def test_every_background_task_is_in_the_table():
    found = {
        name
        for module in _modules_of("participants")
        for name, value in vars(module).items()
        if isinstance(value, Task) and value.module_path == f"{module.__name__}.{name}"
    }
    assert found == set(TASKS)


@pytest.mark.parametrize("module", list(SERVICES), ids=lambda m: m.__name__)
def test_every_service_function_is_in_the_table(module):
    public = {
        name for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
        and not name.startswith("_")
    }  # fmt: skip
    assert public == set(SERVICES[module])


def test_the_table_counts():
    """The figure for the issue: write paths enumerated, and none without its entry (each
    row of WRITE_PATHS is a case of test_write_path_leaves_who_when_channel_and_what)."""
    assert len(WRITE_PATHS) >= 40
    print(f"write paths enumerated {len(WRITE_PATHS)}")
