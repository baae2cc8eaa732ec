"""Who sees what: the editor of provider A, the editor of provider B, a viewer of A and an
ACCME reviewer against every page that exists — the portal and every model admin
registered on the reviewer site (enumerated, so a newly registered model is covered)."""

import uuid

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import capfirst
from django_tasks_db.models import DBTaskResult

from activities.models import Activity, MocRegistration, Provider, ProviderMembership
from activities.services import portal_event_record
from pars_portal.lib import access
from pars_portal.lib.admin import ReviewerModelAdmin, SuperuserViewAccess
from participants.apikeys import api_key_create
from participants.models import CompletionEvent, FollowUp, TransmissionBatch, Upload

from .conftest import make_completion, make_user, portal_patterns

ADMIN_MODELS = list(admin.site._registry)
ADMIN_IDS = [model._meta.label for model in ADMIN_MODELS]
# Other apps' tables only superusers see (login attempts, task results), and the rest.
SUPERUSER_MODELS = [
    m for m in ADMIN_MODELS if isinstance(admin.site._registry[m], SuperuserViewAccess)
]
SUPERUSER_IDS = [model._meta.label for model in SUPERUSER_MODELS]
REVIEWER_MODELS = [m for m in ADMIN_MODELS if m not in SUPERUSER_MODELS]
REVIEWER_IDS = [model._meta.label for model in REVIEWER_MODELS]
# Every portal page (admin/ and accounts/ are includes with their own tests below).
PORTAL_URLS = portal_patterns()
PORTAL_NAMES = [p.name for p in PORTAL_URLS]
# Converters that name one provider's object (file_format only picks a download format).
OBJECT_CONVERTERS = {"pars_id", "pk", "upload_id", "key_id", "follow_up_id", "accme_id",
                     "membership_id"}  # fmt: skip
# Reviewer-only pages do not exist for provider staff (404), whoever's data they show.
REVIEWER_ONLY = {"review_queue", "review_detail", "review_transmit", "review_simulate_board"}
OBJECT_URL_NAMES = [p.name for p in PORTAL_URLS if OBJECT_CONVERTERS & set(p.pattern.converters)]
LIST_URL_NAMES = [p.name for p in PORTAL_URLS if p.name not in OBJECT_URL_NAMES]
LEARNER = {"Provider A": "Aardvark", "Provider B": "Bumblebee"}


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def provider_path(model):
    """The lookup from `model` to its provider, or None when it is not provider data."""
    model_admin = admin.site._registry[model]
    if not isinstance(model_admin, ReviewerModelAdmin):
        return None
    return model_admin.provider_path


def objects_of(model, provider):
    path = provider_path(model)
    if path == "":
        return model.objects.filter(pk=provider.pk)
    return model.objects.filter(**{path: provider})


def portal_url(name, everything):
    """The URL named `name`, pointing at provider A's objects."""
    activity = everything["a"]
    values = {
        "pars_id": activity.pars_id,
        "pk": activity.completions.get().pk,
        "upload_id": activity.provider.uploads.get().pk,
        "key_id": activity.provider.api_keys.get().pk,
        "follow_up_id": FollowUp.objects.get_or_create(completion=activity.completions.get())[0].pk,
        "file_format": "csv",
        "accme_id": activity.provider.accme_id,
        "membership_id": activity.provider.memberships.order_by("pk").first().pk,
    }
    pattern = next(p for p in PORTAL_URLS if p.name == name)
    missing = set(pattern.pattern.converters) - set(values)
    assert not missing, f"teach portal_url() which of A's objects fills {missing}"
    return reverse(name, kwargs={key: values[key] for key in pattern.pattern.converters})


@pytest.fixture
def everything(activity_a, activity_b, editor_a, editor_b, viewer_a, reviewer, roster):
    """At least one object of every admin-registered model; provider data for A and B."""
    for activity, editor in ((activity_a, editor_a), (activity_b, editor_b)):
        upload = Upload.objects.create(
            provider=activity.provider,
            uploaded_by=editor,
            file_name=f"learners-{activity.provider.accme_id}.xml",
            file_format=Upload.Format.XML,
            sha256="0" * 64,
        )
        completion = make_completion(
            activity, upload=upload, created_by=editor, last_name=LEARNER[activity.provider.name]
        )
        api_key_create(provider=activity.provider, user=editor, name="LMS", mode="sandbox")
        CompletionEvent.objects.create(
            completion=completion, actor=editor, channel="upload", to_status="submitted"
        )
    for log in (AccessAttempt, AccessLog, AccessFailureLog):
        extra = {"failures_since_start": 1} if log is AccessAttempt else {}
        log.objects.create(
            username="editor-a",
            ip_address="127.0.0.1",
            user_agent="pytest",
            http_accept="*/*",
            path_info="/accounts/login/",
            **extra,
        )
    TransmissionBatch.objects.create(
        board=activity_a.registrations.get().board, file="transmissions/x.xml", additions=1,
        status=TransmissionBatch.Status.FILE_ONLY,
    )  # fmt: skip
    portal_event_record(action="roster.load", text="Board roster loaded: 2 rows, 2 new")
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="participants.tasks.example",
        backend_name="default",
        run_after=timezone.now(),
        exception_class_path="",
        traceback="",
    )
    return {"a": activity_a, "b": activity_b}


@pytest.fixture
def staff_not_reviewer(provider_a):
    """Provider staff with the staff flag set by mistake: still not a reviewer."""
    user = make_user("staff-a", staff=True)
    ProviderMembership.objects.create(user=user, provider=provider_a, role="editor")
    return user


# --- The provider portal --------------------------------------------------------------


def test_editor_sees_own_activity(client_of, editor_a, activity_a):
    response = client_of(editor_a).get(f"/activities/{activity_a.pars_id}/")
    assert response.status_code == 200
    assert "Hypertension Update" in response.content.decode()


def test_viewer_sees_own_activity(client_of, viewer_a, activity_a):
    client = client_of(viewer_a)
    assert client.get(f"/activities/{activity_a.pars_id}/").status_code == 200
    assert "Hypertension Update" in client.get("/activities/").content.decode()


def test_staff_of_other_provider_gets_404(client_of, editor_b, activity_a, activity_b):
    response = client_of(editor_b).get(f"/activities/{activity_a.pars_id}/")
    assert response.status_code == 404
    assert "Hypertension Update" not in response.content.decode()


def test_unknown_activity_id_gets_404(client_of, editor_a, activity_a):
    assert client_of(editor_a).get("/activities/999999999/").status_code == 404


def test_activity_list_shows_only_own_provider(client_of, editor_b, activity_a, activity_b):
    page = client_of(editor_b).get("/activities/").content.decode()
    assert "Lakeside Grand Rounds" in page
    assert "Hypertension Update" not in page
    assert activity_a.pars_id not in page


def test_provider_filter_does_not_open_other_providers_list(
    client_of, editor_b, activity_a, activity_b
):
    page = client_of(editor_b).get("/activities/?provider=0001234").content.decode()
    assert "Hypertension Update" not in page
    assert activity_a.pars_id not in page


def test_home_lists_only_own_provider(client_of, editor_b, provider_a, activity_b):
    page = client_of(editor_b).get("/").content.decode()
    assert "Provider B" in page
    assert "Provider A" not in page
    assert "0001234" not in page


def test_user_without_provider_is_told_to_ask_accme(client_of, db, activity_a):
    page = client_of(make_user("newcomer")).get("/").content.decode()
    assert "not linked to a provider" in page
    assert "Provider A" not in page
    assert (
        activity_a.pars_id
        not in client_of(make_user("newcomer2")).get("/activities/").content.decode()
    )


def test_reviewer_sees_every_providers_activities(client_of, reviewer, activity_a, activity_b):
    client = client_of(reviewer)
    listing = client.get("/activities/").content.decode()
    assert "Hypertension Update" in listing
    assert "Lakeside Grand Rounds" in listing
    assert client.get(f"/activities/{activity_a.pars_id}/").status_code == 200
    assert client.get(f"/activities/{activity_b.pars_id}/").status_code == 200
    home = client.get("/").content.decode()
    assert "Provider A" in home
    assert "Provider B" in home


@pytest.mark.parametrize("name", PORTAL_NAMES)
def test_anonymous_user_is_sent_to_login(client, everything, name):
    url = portal_url(name, everything)
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("name", OBJECT_URL_NAMES)
def test_staff_of_other_provider_gets_404_on_every_page_of_an_object(
    client_of, editor_b, everything, name
):
    client = client_of(editor_b)
    url = portal_url(name, everything)
    response = client.get(url)
    if response.status_code == 405:  # a POST-only action
        response = client.post(url)
    assert response.status_code == 404
    page = response.content.decode()
    assert "Hypertension Update" not in page
    assert "Aardvark" not in page
    assert everything["a"].completions.get().status == "submitted"


@pytest.mark.parametrize("name", LIST_URL_NAMES)
def test_pages_without_an_object_show_nothing_of_other_provider(
    client_of, editor_b, everything, name
):
    client = client_of(editor_b)
    response = client.get(portal_url(name, everything))
    if name in REVIEWER_ONLY:
        if response.status_code == 405:  # a POST-only reviewer action
            response = client.post(portal_url(name, everything))
        assert response.status_code == 404
        return
    if response.status_code == 405:  # a POST-only action (e.g. create a key)
        response = client.post(portal_url(name, everything), follow=True)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    page = body.decode("utf-8", "replace")
    assert "Hypertension Update" not in page
    assert everything["a"].pars_id not in page
    assert "Aardvark" not in page
    assert "Provider A" not in page


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_login_pages_open_without_login(client, db, url):
    assert client.get(url).status_code == 200


# --- The reviewer admin ---------------------------------------------------------------


def test_reviewer_opens_admin_index(client_of, reviewer):
    response = client_of(reviewer).get(reverse("admin:index"))
    assert response.status_code == 200
    assert "PARS Portal – ACCME reviewers" in response.content.decode()


@pytest.mark.parametrize("model", REVIEWER_MODELS, ids=REVIEWER_IDS)
def test_reviewer_opens_every_admin_changelist(client_of, reviewer, everything, model):
    response = client_of(reviewer).get(admin_url(model, "changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", REVIEWER_MODELS, ids=REVIEWER_IDS)
def test_reviewer_opens_change_page_of_every_providers_objects(
    client_of, reviewer, everything, model
):
    client = client_of(reviewer)
    if provider_path(model) is None:
        obj = model.objects.first()
        assert obj is not None, f"add a {model._meta.label} to the `everything` fixture"
        targets = [obj]
    else:
        targets = []
        for activity in everything.values():
            obj = objects_of(model, activity.provider).first()
            assert obj is not None, f"add a {model._meta.label} of each provider to `everything`"
            targets.append(obj)
    for obj in targets:
        response = client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 200, obj
        assert escape(str(obj)) in response.content.decode()


def test_login_attempts_and_task_results_are_for_superusers_only():
    assert set(SUPERUSER_IDS) == {
        "axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog",
        "django_tasks_database.DBTaskResult",
    }  # fmt: skip


@pytest.mark.parametrize("model", SUPERUSER_MODELS, ids=SUPERUSER_IDS)
def test_reviewers_do_not_see_other_apps_housekeeping_tables(
    client_of, reviewer, everything, model
):
    """Login attempts, lockouts and background task results are not the reviewers'
    business: not in their admin index, and their pages answer 403; a superuser sees them
    (and cannot add to them)."""
    changelist = admin_url(model, "changelist")
    change = admin_url(model, "change", model.objects.first().pk)
    plural = capfirst(model._meta.verbose_name_plural)
    client = client_of(reviewer)
    index = client.get(reverse("admin:index")).content.decode()
    assert "Deadlines" in index  # the index lists the reviewers' own tables
    assert changelist not in index and f">{plural}<" not in index
    for url in (changelist, change):
        assert client.get(url).status_code == 403, url
    action = {"action": "cleanup_expired_attempts", "_selected_action": [model.objects.first().pk]}
    response = client.post(changelist, action)
    assert response.status_code == 403
    assert model.objects.exists()

    boss = make_user("boss")
    boss.is_superuser = boss.is_staff = True
    boss.save()
    client = client_of(boss)
    index = client.get(reverse("admin:index")).content.decode()
    assert changelist in index and f">{plural}<" in index
    assert client.get(changelist).status_code == 200
    assert client.get(change).status_code == 200
    assert client.get(admin_url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=ADMIN_IDS)
def test_admin_change_page_of_missing_object_gets_404(client_of, reviewer, model):
    missing = uuid.uuid4() if model._meta.pk.get_internal_type() == "UUIDField" else 999999
    response = client_of(reviewer).get(admin_url(model, "change", missing))
    assert response.status_code == 404


def test_reviewer_changelist_shows_both_providers(client_of, reviewer, everything):
    page = client_of(reviewer).get(admin_url(Activity, "changelist")).content.decode()
    assert "Hypertension Update" in page
    assert "Lakeside Grand Rounds" in page


@pytest.mark.parametrize("persona", ["editor_a", "viewer_a", "staff_not_reviewer"])
def test_provider_staff_cannot_open_admin_index(client_of, request, everything, persona):
    user = request.getfixturevalue(persona)
    response = client_of(user).get(reverse("admin:index"), follow=True)
    final_url, _status = response.redirect_chain[-1]
    assert final_url.startswith("/admin/login/")
    assert "Hypertension Update" not in response.content.decode()


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=ADMIN_IDS)
@pytest.mark.parametrize("persona", ["editor_a", "staff_not_reviewer"])
def test_provider_staff_cannot_use_admin(client_of, request, everything, persona, model):
    user = request.getfixturevalue(persona)
    client = client_of(user)
    obj = (
        objects_of(model, everything["a"].provider).first()
        if provider_path(model) is not None
        else model.objects.first()
    )
    urls = [admin_url(model, "changelist")] + ([admin_url(model, "change", obj.pk)] if obj else [])
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/admin/login/"), url
        page = client.get(url, follow=True).content.decode()
        assert "Hypertension Update" not in page
        assert everything["a"].pars_id not in page


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=ADMIN_IDS)
def test_anonymous_user_is_sent_to_login_from_admin(client, everything, model):
    obj = model.objects.first()
    for url in [admin_url(model, "changelist"), admin_url(model, "change", obj.pk)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(("/admin/login/", "/accounts/login/")), url
        assert "next=" in response.url


def test_anonymous_user_is_sent_to_login_from_admin_index(client, db):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


# --- The scoping helper ---------------------------------------------------------------


def test_visible_providers_per_persona(editor_a, viewer_a, editor_b, reviewer):
    provider_a, provider_b = (
        Provider.objects.get(name="Provider A"),
        Provider.objects.get(name="Provider B"),
    )
    assert list(access.visible_providers(editor_a)) == [provider_a]
    assert list(access.visible_providers(viewer_a)) == [provider_a]
    assert list(access.visible_providers(editor_b)) == [provider_b]
    assert set(access.visible_providers(reviewer)) == {provider_a, provider_b}
    assert not access.visible_providers(AnonymousUser()).exists()


def test_inactive_staff_see_nothing(editor_a):
    editor_a.is_active = False
    editor_a.save()
    assert not access.visible_providers(editor_a).exists()


def test_superuser_counts_as_reviewer(db, provider_a, provider_b):
    boss = make_user("boss")
    boss.is_superuser = True
    boss.save()
    assert access.is_reviewer(boss)
    assert access.visible_providers(boss).count() == 2


def test_staff_flag_alone_does_not_make_a_reviewer(staff_not_reviewer, provider_b):
    assert not access.is_reviewer(staff_not_reviewer)
    assert list(access.visible_providers(staff_not_reviewer)) == [
        Provider.objects.get(name="Provider A")
    ]


def test_write_scope_excludes_viewers_and_reviewers(
    editor_a, viewer_a, reviewer, activity_a, activity_b
):
    activities = Activity.objects.all()
    assert list(access.scope(activities, editor_a, write=True)) == [activity_a]
    assert not access.scope(activities, viewer_a, write=True).exists()
    assert not access.scope(activities, reviewer, write=True).exists()
    assert access.scope(activities, reviewer).count() == 2


def test_scope_follows_a_path_to_the_provider(editor_b, activity_a, activity_b):
    registrations = access.scope(MocRegistration.objects.all(), editor_b, via="activity__provider")
    assert [r.activity for r in registrations] == [activity_b]


def test_get_for_user_returns_own_object_for_writing(editor_a, activity_a):
    obj = access.get_for_user(
        Activity.objects.all(), editor_a, write=True, pars_id=activity_a.pars_id
    )
    assert obj == activity_a


def test_get_for_user_forbids_viewer_to_write(viewer_a, activity_a):
    assert access.get_for_user(Activity.objects.all(), viewer_a, pars_id=activity_a.pars_id)
    with pytest.raises(PermissionDenied):
        access.get_for_user(
            Activity.objects.all(), viewer_a, write=True, pars_id=activity_a.pars_id
        )


def test_get_for_user_forbids_reviewer_to_write_in_portal(reviewer, activity_a):
    with pytest.raises(PermissionDenied):
        access.get_for_user(
            Activity.objects.all(), reviewer, write=True, pars_id=activity_a.pars_id
        )


def test_get_for_user_hides_other_providers_object(editor_b, activity_a):
    with pytest.raises(Http404):
        access.get_for_user(Activity.objects.all(), editor_b, pars_id=activity_a.pars_id)
    with pytest.raises(Http404):
        access.get_for_user(
            Activity.objects.all(), editor_b, write=True, pars_id=activity_a.pars_id
        )


def test_can_write_only_own_provider_as_editor(editor_a, viewer_a, provider_a, provider_b):
    assert access.can_write(editor_a, provider_a.pk)
    assert not access.can_write(editor_a, provider_b.pk)
    assert not access.can_write(viewer_a, provider_a.pk)
