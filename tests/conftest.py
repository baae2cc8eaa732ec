"""Three personas, built by hand (healthchecks style): the editor of provider A, staff of
provider B, and an ACCME reviewer; plus a viewer of A for the read-only checks."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import URLResolver, get_resolver

from activities import services as activity_services
from activities.models import (
    Activity,
    Attestation,
    Board,
    Channel,
    Provider,
    ProviderMembership,
)
from pars_portal.lib.access import REVIEWERS_GROUP
from participants.models import Completion, RosterEntry

PASSWORD = "correct horse battery staple"


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
