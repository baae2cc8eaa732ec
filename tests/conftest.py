"""Three personas, built by hand (healthchecks style): the editor of provider A, staff of
provider B, and an ACCME reviewer; plus a viewer of A for the read-only checks. Also what
many test files share: the reference data transactional tests put back, a folder of their
own for uploaded files, API keys and the two ways of calling the web services (the Django
test client, or real HTTP to the live server)."""

import datetime as dt
import http.client
import json
import os
import urllib.parse
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.urls import URLResolver, get_resolver

from activities import services as activity_services
from activities.models import (
    Activity,
    Attestation,
    Board,
    Channel,
    CreditType,
    Deadline,
    Provider,
    ProviderMembership,
)
from pars_portal.lib.access import REVIEWERS_GROUP
from participants.apikeys import api_key_create
from participants.models import ApiKey, Completion, RosterEntry

PASSWORD = "correct horse battery staple"


def postgres_pass() -> str | None:
    """DATABASE_URL when it names a PostgreSQL server (CI's second pass of the suite)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def sqlite_in_memory() -> bool:
    """The test database is SQLite in memory (the SQLite pass): shared between threads in
    shared-cache mode, whose table locks fail at once instead of waiting, so threads cannot
    race on it."""
    database = django_settings.DATABASES["default"]
    return database["ENGINE"].endswith("sqlite3") and (database.get("TEST") or {}).get("NAME") in (
        None,
        "",
        ":memory:",
    )


# A test that makes a SQLite file of its own, whatever DATABASE_URL says: the same test with
# the same inputs ran in CI's SQLite pass, so the PostgreSQL pass leaves it out.
SQLITE_FILE_ONLY = (
    "it runs on a SQLite file of its own, whatever DATABASE_URL says; CI's SQLite pass ran it"
)


@pytest.fixture
def abim(db):
    return Board.objects.get(code="ABIM")


@pytest.fixture
def credit_types(abim):
    return {ct.code: ct for ct in abim.credit_types.all()}


def make_user(username, *, staff=False, reviewer=False):
    user = User.objects.create_user(username, f"{username}@example.org", PASSWORD)
    if staff or reviewer:
        user.is_staff = True
        user.save()
    if reviewer:
        user.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
    return user


@pytest.fixture
def provider_a(db):
    return Provider.objects.create(accme_id="0001234", name="Provider A")


@pytest.fixture
def provider_b(db):
    return Provider.objects.create(accme_id="0005678", name="Provider B")


@pytest.fixture
def editor_a(provider_a):
    user = make_user("editor-a")
    ProviderMembership.objects.create(user=user, provider=provider_a, role="editor")
    return user


@pytest.fixture
def viewer_a(provider_a):
    user = make_user("viewer-a")
    ProviderMembership.objects.create(user=user, provider=provider_a, role="viewer")
    return user


@pytest.fixture
def editor_b(provider_b):
    user = make_user("editor-b")
    ProviderMembership.objects.create(user=user, provider=provider_b, role="editor")
    return user


@pytest.fixture
def reviewer(db):
    return make_user("reviewer", reviewer=True)


def make_activity(
    provider,
    actor,
    *,
    title="Activity",
    points=Decimal("10"),
    codes=("MK",),
    start=dt.date(2015, 10, 1),
):
    activity = activity_services.activity_create(
        provider=provider,
        actor=actor,
        title=title,
        activity_type=Activity.Type.COURSE,
        start_date=start,
        end_date=start + dt.timedelta(days=90),
        reporting_year=start.year,
        cme_credits=Decimal("10"),
    )
    if points is not None:
        board = Board.objects.get(code="ABIM")
        activity_services.registration_create(
            activity=activity,
            actor=actor,
            moc_points=points,
            credit_types=list(board.credit_types.filter(code__in=codes)),
            attested=Attestation.Statement.values,
        )
    return activity


@pytest.fixture
def activity_a(provider_a, editor_a):
    return make_activity(provider_a, editor_a, title="Hypertension Update", codes=("MK", "PS"))


@pytest.fixture
def activity_b(provider_b, editor_b):
    return make_activity(provider_b, editor_b, title="Lakeside Grand Rounds")


@pytest.fixture
def roster(abim):
    """Known diplomates for provisional verification."""
    return [
        RosterEntry.objects.create(
            board=abim,
            learner_id="123456",
            first_name="Jane",
            last_name="Smith",
            birth_month=7,
            birth_day=14,
        ),
        RosterEntry.objects.create(
            board=abim,
            learner_id="234567",
            first_name="Omar",
            last_name="Haddad",
            birth_month=2,
            birth_day=29,
        ),
    ]


@pytest.fixture
def client_of(client):
    """client_of(user) → a test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


def completion_values(activity, *, credit="MK", **fields):
    """Field values of a valid completion record for `activity` (ABIM, Jane Smith)."""
    board = Board.objects.get(code="ABIM")
    values = {
        "provider": activity.provider,
        "activity": activity,
        "board": board,
        "learner_id": "123456",
        "first_name": "Jane",
        "last_name": "Smith",
        "birth_month": 7,
        "birth_day": 14,
        "completion_date": activity.start_date + dt.timedelta(days=30),
        "credit_type": board.credit_types.get(code=credit),
        "moc_points": Decimal("10"),
        "learner_permission": True,
        "channel": Channel.FORM,
    }
    values.update(fields)
    return values


def make_completion(activity, **fields) -> Completion:
    """A completion written straight to the database (no pipeline), for data setup."""
    return Completion.objects.create(**completion_values(activity, **fields))


def portal_patterns() -> list:
    """The portal's pages: every URL pattern of the apps' URL modules (included at the
    root) and the project's own, not the API's, the admin's nor the login pages."""

    def flat(patterns):
        for pattern in patterns:
            if not isinstance(pattern, URLResolver):
                yield pattern
            elif str(pattern.pattern) == "":
                yield from flat(pattern.url_patterns)

    return list(flat(get_resolver().url_patterns))


# --- Reference data, files ---------------------------------------------------------------------


def seed_reference_data():
    """What activities' data migration (0002) seeds: ABIM and its credit types, the reporting
    deadlines, the reviewers group (tests/test_seed_data.py checks it is the same)."""
    abim, _ = Board.objects.get_or_create(
        code="ABIM",
        defaults={
            "name": "American Board of Internal Medicine",
            "board_id_pattern": r"^\d{6}$",
            "board_id_length": 6,
            "board_id_description": "6 digits",
        },
    )
    for code, label in [
        ("MK", "Medical Knowledge"),
        ("PA", "Practice Assessment"),
        ("PS", "Patient Safety"),
    ]:
        CreditType.objects.get_or_create(board=abim, code=code, defaults={"label": label})
    Deadline.objects.get_or_create(
        year=2014,
        defaults={"due_date": dt.date(2016, 6, 30),
                  "note": "2014 completions only: due by June 30, 2016."},
    )  # fmt: skip
    Deadline.objects.get_or_create(
        year=2015,
        defaults={
            "due_date": dt.date(2015, 12, 31),
            "grace_until": dt.date(2016, 1, 7),
            "note": "ABIM grace period through the first week of January 2016.",
        },
    )
    for year in range(2016, 2031):
        Deadline.objects.get_or_create(year=year, defaults={"due_date": dt.date(year, 12, 31)})
    Group.objects.get_or_create(name=REVIEWERS_GROUP)


@pytest.fixture
def seed_data(transactional_db):
    """Transactional tests (live_server, threads, browsers) flush the database after each
    test, the data migration's rows included: put them back."""
    seed_reference_data()


@pytest.fixture
def fresh_throttles(transactional_db):  # the cache is a database table
    """Throttle counters live in the (process-wide) cache: no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded files, error reports and transmission batches go to this test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- API keys and the web services -------------------------------------------------------------


def make_key(provider, user, mode="production", name="Moodle LMS") -> str:
    """A new API key of `provider`, created by `user`: its secret."""
    _, secret = api_key_create(provider=provider, user=user, name=name, mode=mode)
    return secret


def key_record(secret) -> ApiKey:
    return ApiKey.objects.get(prefix=secret[:14])


@pytest.fixture
def key_a(provider_a, editor_a):
    return make_key(provider_a, editor_a)


@pytest.fixture
def sandbox_key_a(provider_a, editor_a):
    return make_key(provider_a, editor_a, mode="sandbox", name="Moodle test")


@pytest.fixture
def key_b(provider_b, editor_b):
    return make_key(provider_b, editor_b)


def api_request(client, method, path, key, body=None, *, content_type="application/json",
                **extra):  # fmt: skip
    """A web-service call through a Django test client, with `key` as its bearer token.
    `path` is under /api/v1/ unless it starts with "/". A GET's body is its query; any
    other body is sent as it is (bytes, text) or as JSON, and None sends none."""
    if not path.startswith("/"):
        path = "/api/v1/" + path
    extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    send = getattr(client, method)
    if method == "get":
        return send(path, body, **extra)
    if body is None:
        return send(path, **extra)
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    return send(path, body, content_type=content_type, **extra)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class Api:
    """Speaks HTTP to the live server with http.client (no Django test client)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port

    def request(self, method, path, *, key=None, body=None, content_type=None, headers=None):
        if not path.startswith("/"):
            path = "/api/v1/" + path
        sent = {"Accept": "*/*"}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if content_type is not None:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Reply(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def get(self, path, *, key=None, params=None, **kwargs):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.request("GET", path, key=key, **kwargs)

    def post_json(self, path, data, *, key=None, **kwargs):
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self.request(
            "POST", path, key=key, body=body, content_type="application/json", **kwargs
        )

    def post_xml(self, path, data: bytes, *, key=None, content_type="application/xml"):
        return self.request("POST", path, key=key, body=data, content_type=content_type)

    def delete(self, path, *, key=None, data=None):
        body = json.dumps(data).encode() if data is not None else None
        return self.request(
            "DELETE", path, key=key, body=body, content_type="application/json" if body else None
        )


@pytest.fixture
def api(live_server):
    """Real HTTP to the live server (which makes the test transactional: use seed_data)."""
    return Api(live_server.url)
