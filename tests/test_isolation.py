"""The isolation matrix: staff of provider B against every URL the portal has — portal
pages, downloads, the API, the admin, the login pages — pointed at provider A's objects,
with GET, POST and DELETE. B gets exactly what B would get for an object that does not
exist (403/404/405, or a redirect to the login page in the admin), never a row of A in a
page, a list, an API answer or a file; and nothing of A changes.

Every URL pattern in the resolver (includes too) must be in the matrix: a new page fails
`test_every_url_is_in_the_matrix` until it gets its one line in PORTAL, API or ACCOUNTS
(admin URLs are covered by kind: a new model admin is covered automatically, a new kind of
admin URL needs a line in ADMIN_VIEWS).

Fixtures and helpers come from tests/test_scoping.py (`everything`: A's and B's objects of
every kind; `portal_url`: a page pointed at A's objects)."""

import io
import json
import re
import zipfile

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils.http import urlsafe_base64_encode
from lxml import etree
from openpyxl import load_workbook

from activities.models import (
    Activity,
    ActivityEvent,
    Attestation,
    Board,
    CreditType,
    Deadline,
    MocRegistration,
    Provider,
    ProviderMembership,
)
from participants.models import (
    ApiKey,
    Completion,
    CompletionEvent,
    ContactLog,
    FollowUp,
    RosterEntry,
    TransmissionBatch,
    Upload,
    UploadIssue,
)

from .builders import (
    accme,
    accme_document,
    activity_report,
    learner_report,
    report,
    reports,
)
from .conftest import api_request, make_key
from .test_scoping import (  # noqa: F401 - fixtures are used by name
    LEARNER,
    OBJECT_CONVERTERS,
    everything,
    objects_of,
    portal_url,
    provider_path,
)

FORMATS = ["csv", "tsv", "xlsx", "xml"]
METHODS = ["get", "post", "delete"]
MISSING = {"pars_id": "999999999", "pk": 999999, "upload_id": 999999, "key_id": 999999,
           "follow_up_id": 999999, "activity_id": "999999999", "learnerId": "000000",
           "accme_id": "9999999", "membership_id": 999999}  # fmt: skip
# What B may send: nothing that names A (a page that echoes its form must not look like a
# leak), except A's provider's primary key, which B's forms must refuse.
PROBE = {
    "reason": "isolation probe",
    "title": "isolation probe",
    "name": "isolation probe",
    "mode": "sandbox",
    "action": "assign",
    "note": "isolation probe",
    "post": "yes",
}

# --- The matrix -------------------------------------------------------------------------------
# Portal pages: "object" pages name one of A's objects (B gets what a missing object gets);
# "page" pages name none (B sees only B); "reviewer" pages do not exist for provider staff.
PORTAL = {
    "home": "page", "activity_list": "page", "activity_create": "page",
    "activity_detail": "object", "activity_edit": "object", "registration_create": "object",
    "registration_withdraw": "object", "registration_edit": "object", "learner_check": "object",
    "participant_add": "object",
    "participant_search": "page", "completion_detail": "object", "completion_delete": "object",
    "completion_correct": "object", "activity_export": "object", "participant_export": "page",
    "upload_list": "page", "upload_create": "page", "upload_help": "page",
    "upload_template": "page", "upload_detail": "object", "upload_confirm": "object",
    "upload_retry": "object", "upload_errors": "object", "api_help": "page",
    "upload_discard": "object", "upload_status": "object",
    "api_key_create": "page", "api_key_created": "object", "api_key_revoke": "object",
    "review_queue": "reviewer", "review_detail": "reviewer", "review_transmit": "reviewer",
    "review_simulate_board": "reviewer",
    # A provider's staff (its managers and reviewers): B gets what a missing provider gets.
    "staff_home": "page", "staff_list": "object", "staff_invite": "object",
    "staff_role": "object", "staff_deactivate": "object",
}  # fmt: skip
# Web services, with B's API keys: "object" endpoints name one of A's records or activities,
# "list" endpoints answer with B's rows only, the rest as noted.
API = {
    "api_learner_reports": "submit", "api_learner_reports_xml": "submit",
    "api_completions": "list", "api_status": "list",
    "api_completion": "object", "api_learner_match": "roster", "api_activities": "list",
    "api_activity": "object", "api_board_answers": "board", "api_schema": "public",
    "api_docs": "public", "api_board_schema": "public",
    # ACCME's Learner Activity API: a document naming A's activity, and A's learner by ID.
    "api_learner_activities": "document", "api_learner_activity": "learner",
    "api_learner_activity_status": "list",
}  # fmt: skip
# The login pages (accounts/): no provider data at all.
ACCOUNTS = {
    "login", "logout", "password_change", "password_change_done", "password_reset",
    "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "staff_set_password",
}  # fmt: skip
# Admin views by kind; every one of them sends provider staff to the admin login (the
# login, logout and JavaScript catalogue pages show no data).
ADMIN_VIEWS = {
    "changelist_view", "add_view", "history_view", "delete_view", "change_view", "view",
    "import_action", "process_import", "export_action", "user_change_password", "index",
    "login", "logout", "password_change", "password_change_done", "autocomplete_view",
    "i18n_javascript", "shortcut", "app_index", "catch_all_view",
}  # fmt: skip
ADMIN_PUBLIC = {"login", "logout"}


def walk(patterns, prefix="", namespace=None):
    """(route, name, namespace, pattern) of every URL pattern, includes too."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(
                pattern.url_patterns, prefix + str(pattern.pattern),
                pattern.namespace or namespace,
            )  # fmt: skip
        else:
            yield prefix + str(pattern.pattern), pattern.name, namespace, pattern


ENDPOINTS = list(walk(get_resolver().url_patterns))


def family(route, name, namespace, pattern) -> str | None:
    """Which part of the matrix covers this endpoint (None: not covered)."""
    if namespace == "admin":
        return "admin" if _view_name(pattern) in ADMIN_VIEWS else None
    if route.startswith("api/v1/"):
        return "api" if name in API else None
    if route.startswith("accounts/"):
        return "accounts" if name in ACCOUNTS else None
    return "portal" if name in PORTAL else None


def _view_name(pattern) -> str:
    return getattr(pattern.callback, "__name__", "")


def test_every_url_is_in_the_matrix():
    uncovered = [route for route, *rest in ENDPOINTS if family(route, *rest) is None]
    assert uncovered == [], "add these to PORTAL, API, ACCOUNTS or ADMIN_VIEWS"
    names = {name for route, name, ns, _ in ENDPOINTS if ns is None}
    assert set(PORTAL) | set(API) | ACCOUNTS <= names  # nothing stale
    print(f"endpoints covered {len(ENDPOINTS) - len(uncovered)} / total {len(ENDPOINTS)}")


# --- What B must never see, and what must never change ------------------------------------


@pytest.fixture
def world(
    everything,  # noqa: F811 - the fixture imported above
    editor_b,
    provider_a,
    provider_b,
    settings,
    media_root,
):
    """`everything`, plus what makes A's data findable: a credit ID, a production API key
    for each provider, an upload with a refused row and its stored file."""
    settings.BOARD_ANSWER_TOKEN = "board-answer-token"
    settings.SIMULATED_BOARD = True  # so the simulated board's page exists (for reviewers)
    a, b = everything["a"], everything["b"]
    record = a.completions.get()
    Completion.objects.filter(pk=record.pk).update(credit_id="ccid:lms:aardvark-1")
    FollowUp.objects.get_or_create(completion=record)  # what portal_url() points at
    upload = a.provider.uploads.get()
    upload.file.save("learners-0001234.xml", io.BytesIO(b"<ACCMELearnerReports/>"))
    UploadIssue.objects.create(
        upload=upload,
        phase="check",
        row_number=3,
        field="last_name",
        message="x",
        source="<ActivityReport>Aardvark</ActivityReport>",
    )
    key_b = make_key(provider_b, editor_b, name="B LMS")
    sandbox_b = make_key(provider_b, editor_b, mode="sandbox", name="B test")
    markers = [
        a.title,
        a.pars_id,
        LEARNER["Provider A"],
        provider_a.name,
        upload.file_name,
        "ccid:lms:aardvark-1",
        *a.provider.api_keys.values_list("prefix", flat=True),
    ]
    return {"a": a, "b": b, "record": record, "upload": upload, "markers": markers,
            "keys": [key_b, sandbox_b], "editor_b": editor_b}  # fmt: skip


def state_of_a(world) -> dict:
    """Every row of provider A, and the shared reference data."""
    provider = world["a"].provider
    by_provider = {
        Provider: {"pk": provider.pk}, ProviderMembership: {"provider": provider},
        Activity: {"provider": provider}, MocRegistration: {"activity__provider": provider},
        Attestation: {"registration__activity__provider": provider},
        ActivityEvent: {"activity__provider": provider}, Completion: {"provider": provider},
        CompletionEvent: {"completion__provider": provider},
        FollowUp: {"completion__provider": provider},
        ContactLog: {"follow_up__completion__provider": provider},
        Upload: {"provider": provider}, UploadIssue: {"upload__provider": provider},
        ApiKey: {"provider": provider},
    }  # fmt: skip
    shared = [Board, CreditType, Deadline, RosterEntry, TransmissionBatch]
    state = {m.__name__: list(m.objects.filter(**f).order_by("pk").values())
             for m, f in by_provider.items()}  # fmt: skip
    state.update({m.__name__: list(m.objects.order_by("pk").values()) for m in shared})
    staff = provider.memberships.values("user")
    state["users"] = list(
        apps.get_model("auth", "User").objects.filter(pk__in=staff)
        .order_by("pk").values("pk", "username", "password", "is_active", "is_staff", "email")
    )  # fmt: skip
    return state


def body(response) -> bytes:
    """The answer's bytes (a streamed download is read once and kept)."""
    if not hasattr(response, "_isolation_body"):
        response._isolation_body = (
            b"".join(response.streaming_content) if response.streaming else response.content
        )
    return response._isolation_body


def normalized(response) -> bytes:
    """The page without its per-request CSRF token."""
    return re.sub(rb'(csrfmiddlewaretoken" value=")[^"]+', rb"\1", body(response))


def readable(content: bytes) -> str:
    """A response as text; a workbook's cells, or an XLSX's XML parts, as text too."""
    if content.startswith(b"PK\x03\x04"):
        try:
            sheets = load_workbook(io.BytesIO(content), read_only=True).worksheets
            return "\n".join(
                "\t".join("" if v is None else str(v) for v in row)
                for sheet in sheets for row in sheet.iter_rows(values_only=True)
            )  # fmt: skip
        except Exception:  # noqa: BLE001 - not a workbook: read every part of the zip
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                return "\n".join(archive.read(n).decode("utf-8", "replace")
                                 for n in archive.namelist())  # fmt: skip
    return content.decode("utf-8", "replace")


def assert_nothing_of_a(response, world, what):
    text = readable(body(response))
    leaked = [m for m in world["markers"] if m in text]
    assert leaked == [], f"{what}: {leaked} in the answer"


def as_b(world) -> Client:
    client = Client()
    client.force_login(world["editor_b"])
    return client


def send(client, method, url, data=None, **headers):
    if method == "get":
        return client.get(url, data or {}, **headers)
    if method == "post":
        return client.post(url, data if data is not None else PROBE, **headers)
    return client.delete(url, json.dumps(data) if data is not None else "", **headers)


def pattern_named(name):
    return next(p for route, n, ns, p in ENDPOINTS if n == name and ns is None)


def with_missing(name, file_format="csv"):
    converters = pattern_named(name).pattern.converters
    values = {**MISSING, "file_format": file_format}
    assert set(converters) <= set(values), f"add a missing value for {converters} to MISSING"
    return reverse(name, kwargs={k: values[k] for k in converters})


def with_format(url, name, file_format):
    if "file_format" not in pattern_named(name).pattern.converters:
        return url
    return url.rsplit(".", 1)[0] + "." + file_format


# --- Portal pages and downloads -----------------------------------------------------------

PORTAL_ENDPOINTS = [(r, n) for r, n, ns, _ in ENDPOINTS if ns is None and n in PORTAL]


@pytest.mark.parametrize("name", [n for _, n in PORTAL_ENDPOINTS])
def test_portal_page_as_staff_of_another_provider(world, name):
    kind = PORTAL[name]
    converters = set(pattern_named(name).pattern.converters)
    assert (kind == "object") == bool(OBJECT_CONVERTERS & converters) or kind == "reviewer"
    before = state_of_a(world)
    client = as_b(world)
    formats = FORMATS if "file_format" in converters else [None]
    for file_format in formats:
        url = with_format(portal_url(name, {"a": world["a"]}), name, file_format or "csv")
        for method in METHODS:
            data = {**PROBE, "provider": world["a"].provider.pk} if method == "post" else None
            response = send(client, method, url, data)
            what = f"{method.upper()} {url}"
            assert response.status_code < 500, what
            assert_nothing_of_a(response, world, what)
            if kind == "reviewer":
                assert response.status_code in (404, 405), what
            elif kind == "object":
                assert response.status_code in (403, 404, 405), what
                missing = send(client, method, with_missing(name, file_format or "csv"), data)
                assert response.status_code == missing.status_code, what
                assert normalized(response) == normalized(missing), f"{what}: not as if missing"
            client.force_login(world["editor_b"])  # in case the page logged B out
    assert state_of_a(world) == before


def test_filters_naming_a_find_nothing_in_lists_and_exports(world):
    """B's search and export, filtered by A's provider, activity, learner, upload or credit
    ID: no record of A, in any format."""
    a, record = world["a"], world["record"]
    client = as_b(world)
    filters = [{"provider": a.provider.accme_id}, {"activity": a.pars_id},
               {"learner_id": record.learner_id, "last_name": LEARNER["Provider A"]},
               {"upload": world["upload"].pk}, {"status": "submitted"}]  # fmt: skip
    # A's record went out in a batch (and a deletion notice in it) and awaits the board.
    batch = TransmissionBatch.objects.get()
    Completion.objects.filter(pk=record.pk).update(
        transmitted_in=batch, transmitted_at=batch.created_at, deletion_transmitted_in=batch
    )
    filters += [{"batch": batch.pk}, {"deletion_batch": batch.pk}, {"board": "waiting"}]
    own = Client()
    own.force_login(a.provider.memberships.get(role="editor").user)
    for params in filters:
        # Each filter does find A's record for A's own staff: B's empty lists are scoping.
        mine = own.get(reverse("participant_search"), params).context["page"].object_list
        assert record.pk in [r.pk for r in mine], params
        page = client.get(reverse("participant_search"), params)
        assert page.status_code == 200
        shown = list(page.context["page"].object_list)
        assert [r for r in shown if r.provider_id == a.provider_id] == [], params
        for file_format in FORMATS:
            url = reverse("participant_export", args=[file_format])
            response = client.get(url, params)
            assert response.status_code == 200
            assert_nothing_of_a(response, world, f"{url} {params}")
            assert exported_rows(body(response), file_format) <= 1  # B's one record at most


def exported_rows(content: bytes, file_format: str) -> int:
    if file_format == "xml":
        return len(etree.fromstring(content).findall(".//ActivityReport"))
    lines = [line for line in readable(content).splitlines() if line.strip()]
    return len(lines) - 1  # the header


def test_b_cannot_create_anything_for_a_through_a_provider_field(world):
    """Forms that ask which provider (for staff of several) refuse one that is not B's."""
    a = world["a"]
    before = state_of_a(world)
    client = as_b(world)
    provider = {"provider": a.provider.pk}
    client.post(reverse("activity_create"), {
        **provider, "title": "isolation probe", "activity_type": "C",
        "start_date": "2016-01-10", "end_date": "2016-01-12", "reporting_year": "2016",
        "cme_credits": "1",
    })  # fmt: skip
    client.post(reverse("api_key_create"), {**provider, "name": "probe", "mode": "sandbox"})
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.post(reverse("upload_create"), {
        **provider, "file": SimpleUploadedFile("x.csv", b"Action,PARS Activity ID\nadd,1\n")
    })  # fmt: skip
    assert state_of_a(world) == before
    assert not Activity.objects.filter(provider=a.provider, title="isolation probe").exists()


# --- The web services -----------------------------------------------------------------------

API_ENDPOINTS = [(r, n) for r, n, ns, _ in ENDPOINTS if n in API and r.startswith("api/v1/")]


def api_url(name, world, *, missing=False):
    converters = pattern_named(name).pattern.converters
    values = dict(MISSING) if missing else {"pk": world["record"].pk,
                                            "activity_id": world["a"].pars_id,
                                            "learnerId": world["record"].learner_id}  # fmt: skip
    return reverse(name, kwargs={k: values[k] for k in converters})


def api_send(method, url, key, body=None, content_type="application/json"):
    """A new client each time; no body is an empty JSON object."""
    body = {} if body is None else body
    return api_request(Client(), method, url, key, body, content_type=content_type)


CREDIT = {"creditType": "MK", "points": "1", "creditId": "ccid:lms:aardvark-1"}


def world_learner(world) -> dict:
    """The web services' learner object of A's record."""
    return {"boardId": world["record"].learner_id, "firstName": "Jane", "lastName": "Smith",
            "birthMonth": 7, "birthDay": 14}  # fmt: skip


def report_naming(world, activity_id, *, action="add"):
    return reports(report(activity_id, world_learner(world), completed="2015-10-31",
                          credits=[CREDIT], action=action))  # fmt: skip


def xml_naming(world, provider_id, activity_id, action="add") -> bytes:
    report = activity_report(
        activity_id, world_learner(world), title="x", provider=provider_id, organization=None,
        completed="2015-10-31", credits=[("MK", "1")], action=action,
    )  # fmt: skip
    return learner_report(report, created=None)


def document_naming(world, provider_id, activity_id, action="add") -> dict:
    """ACCME's JSON learner report (pars-spec §9) naming an activity and A's learner."""
    return accme_document(accme(
        world_learner(world), activity=activity_id, title="x", provider=provider_id,
        organization="B", birth_year=1904, completed="2015-10-31", credits=[("MK", 1)],
        credit_id=CREDIT["creditId"], LearnerRecordAction=action,
    ))  # fmt: skip


def same_answer(a_response, missing_response, a_value, missing_value, what):
    """B's answer about A's object is the answer about a missing one (the names B sent
    aside): nothing tells B that A's object exists."""
    assert a_response.status_code == missing_response.status_code, what
    assert body(a_response) == body(missing_response).replace(
        str(missing_value).encode(), str(a_value).encode()
    ), what


@pytest.mark.parametrize("name", [n for _, n in API_ENDPOINTS])
def test_api_endpoint_with_another_providers_key(world, name):
    kind = API[name]
    before = state_of_a(world)
    a, record = world["a"], world["record"]
    for key in world["keys"]:
        url = api_url(name, world)
        for method in METHODS:
            what = f"{method.upper()} {url} ({key[:10]}…)"
            response = api_send(method, url, key)
            assert response.status_code < 500, what
            assert_nothing_of_a(response, world, what)
            if kind == "object":
                missing = api_send(method, api_url(name, world, missing=True), key)
                assert response.status_code in (404, 405), what
                same_answer(response, missing, a.pars_id, MISSING["activity_id"], what)
            elif kind == "learner":
                # The same physician may be B's learner too: B sees (or deletes) B's own
                # records of that learner, never A's (checked above and by state_of_a).
                assert response.status_code in (200, 204, 404, 405), what
                if response.status_code == 200:
                    reports = response.json()["ACCMELearnerReports"]["ActivityReports"]
                    ids = {r["XtensibleInfo"]["RecordID"] for r in reports["ActivityReport"]}
                    assert record.pk not in ids, what
            elif kind == "board":
                assert response.status_code in (401, 405), what  # the board's token only
            elif kind in ("list", "public") and method == "get":
                assert response.status_code in (200, 400, 404), what
        if kind == "submit":
            for action in ("add", "delete"):
                for body_a, body_missing in [
                    (report_naming(world, a.pars_id, action=action),
                     report_naming(world, MISSING["activity_id"], action=action)),
                    (xml_naming(world, "0005678", a.pars_id, action),
                     xml_naming(world, "0005678", MISSING["activity_id"], action)),
                ]:  # fmt: skip
                    content_type = "application/xml" if isinstance(body_a, bytes) else None
                    kwargs = {"content_type": content_type} if content_type else {}
                    response = api_send("post", url, key, body_a, **kwargs)
                    missing = api_send("post", url, key, body_missing, **kwargs)
                    same_answer(response, missing, a.pars_id, MISSING["activity_id"], name)
            # A's own provider ID in an XML report is refused as not B's.
            response = api_send("post", url, key, xml_naming(world, "0001234", a.pars_id),
                                content_type="application/xml")  # fmt: skip
            assert response.status_code == 400
        if kind == "document":
            for action in ("add", "delete"):
                response = api_send(
                    "post", url, key, document_naming(world, "0005678", a.pars_id, action)
                )
                missing = api_send(
                    "post",
                    url,
                    key,
                    document_naming(world, "0005678", MISSING["activity_id"], action),
                )
                same_answer(response, missing, a.pars_id, MISSING["activity_id"], name)
                assert response.status_code == 400, what  # not B's activity: nothing stored
            # A's own provider ID in the document is refused as not B's.
            response = api_send("post", url, key, document_naming(world, "0001234", a.pars_id))
            assert response.status_code == 400
        if kind == "list":
            queries = [{}, {"activityId": a.pars_id}, {"boardId": record.learner_id},
                       {"creditId": "ccid:lms:aardvark-1"},
                       {"activityId": a.pars_id, "boardId": record.learner_id, "birth": "07-14",
                        "completionDate": record.completion_date.isoformat()},
                       {"CreditId": "ccid:lms:aardvark-1"},
                       {"moduleID": a.pars_id, "UniqueID": record.learner_id,
                        "BirthDate": "07-14",
                        "CompletionDate": record.completion_date.isoformat()}]  # fmt: skip
            for query in queries:
                response = api_send("get", url, key, query)
                assert response.status_code in (200, 400, 404), (url, query)
                assert_nothing_of_a(response, world, f"{url} {query}")
                if response.status_code == 200:
                    rows = response.json()
                    rows = rows["results"] if isinstance(rows, dict) else rows
                    ids = {r.get("id") for r in rows} | {r.get("activityId") for r in rows}
                    assert not ids & {record.pk, a.pars_id}, (url, query)
        if kind == "board":
            answers = [{"recordId": record.pk, "result": "rejected", "reason": "probe"}]
            assert api_send("post", url, key, answers).status_code == 401
    assert state_of_a(world) == before


# --- The login pages -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_login_pages_show_nothing_of_a(world, name):
    before = state_of_a(world)
    values = {"uidb64": urlsafe_base64_encode(str(world["record"].created_by_id).encode()),
              "token": "set-password"}  # fmt: skip
    url = reverse(name, kwargs={k: values[k] for k in pattern_named(name).pattern.converters})
    for method in METHODS:
        response = send(as_b(world), method, url)
        assert response.status_code < 500, (method, url)
        assert_nothing_of_a(response, world, f"{method} {url}")
    assert state_of_a(world) == before


# --- The admin ---------------------------------------------------------------------------------

ADMIN_ENDPOINTS = [(r, p) for r, n, ns, p in ENDPOINTS if ns == "admin"]


def admin_target(route, pattern, world):
    """The admin URL for this pattern, pointed at A's object of that model."""
    view = _view_name(pattern)
    if view == "app_index":
        return "/admin/activities/"
    if view == "catch_all_view":
        return "/admin/nothing-here/"
    app_label, model_name = ([*route.split("/"), "", ""])[1:3]
    try:
        model = apps.get_model(app_label, model_name)
    except (LookupError, ValueError):
        model = None
    if model is None:
        obj = world["a"]  # view_on_site: A's activity
    elif provider_path(model) is not None:
        obj = objects_of(model, world["a"].provider).first()
    else:
        obj = model.objects.first()
    values = {
        "object_id": getattr(obj, "pk", None),
        "id": world["record"].created_by_id,
        "content_type_id": ContentType.objects.get_for_model(Activity).pk,
    }
    url = "/" + route
    for converter in pattern.pattern.converters:
        assert values[converter] is not None, f"no object for {route}: add one to `everything`"
        url = re.sub(rf"<(?:\w+:)?{converter}>", str(values[converter]), url)
    assert "<" not in url and "(" not in url, f"teach admin_target() to fill {route}"
    return url


@pytest.mark.parametrize("route", [r for r, _ in ADMIN_ENDPOINTS])
def test_admin_url_sends_provider_staff_away(world, route):
    pattern = dict(ADMIN_ENDPOINTS)[route]
    url = admin_target(route, pattern, world)
    before = state_of_a(world)
    for method in METHODS:
        client = as_b(world)
        response = send(client, method, url)
        what = f"{method.upper()} {url}"
        assert response.status_code < 500, what
        assert_nothing_of_a(response, world, what)
        if _view_name(pattern) in ADMIN_PUBLIC:
            assert response.status_code in (200, 302, 404, 405), what
        else:
            assert response.status_code == 302, what
            assert response["Location"].startswith("/admin/login/"), what
    assert state_of_a(world) == before
