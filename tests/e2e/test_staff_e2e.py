"""A provider's manager adds a colleague through a real browser: invites a viewer from the
Staff page; the viewer opens the emailed link (the live server runs in this process with
the in-memory mail backend), sets a password, logs in and reads the provider's data without
being able to change it."""

import re

import pytest
from django.core import mail

from activities.models import ProviderMembership

from ..conftest import PASSWORD, make_activity, make_user

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "sign-in sheets every friday"


def log_in(page, username, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_manager_invites_a_viewer_who_sets_a_password_and_reads_only(page, provider_a,
                                                                     provider_b):  # fmt: skip
    manager = make_user("manager-a")
    ProviderMembership.objects.create(user=manager, provider=provider_a, role="manager")
    activity = make_activity(provider_a, manager, title="Hypertension Update")
    make_activity(provider_b, manager, title="Lakeside Grand Rounds")

    log_in(page, "manager-a")
    page.get_by_role("link", name="Staff", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=re.compile("Staff of Provider A")).is_visible()
    page.get_by_label("First name").fill("Vera")
    page.get_by_label("Last name").fill("Viewer")
    page.get_by_label("Email").fill("vera@example.org")
    page.locator("#invite").get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_load_state()
    assert "Invitation sent to vera@example.org" in page.locator("main").inner_text()
    row = page.locator("#staff tbody tr", has_text="vera@example.org")
    assert "Invited" in row.inner_text() and "Viewer" in row.inner_text()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()

    (message,) = mail.outbox
    assert message.to == ["vera@example.org"]
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", message.body).group(1)
    username = re.search(r"username: (\S+)", message.body).group(1)
    page.goto(link)
    page.get_by_label("New password").first.fill(NEW_PASSWORD)  # then its confirmation
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Your password is set").is_visible()
    page.get_by_role("link", name="Log in").click()
    page.wait_for_load_state()

    log_in(page, username, NEW_PASSWORD)
    assert page.get_by_role("heading", name="Provider A", exact=True).is_visible()
    assert page.get_by_role("link", name="Staff", exact=True).count() == 0
    page.get_by_role("link", name="Activities", exact=True).first.click()
    page.wait_for_load_state()
    body = page.locator("main").inner_text()
    assert "Hypertension Update" in body and "Lakeside Grand Rounds" not in body
    page.get_by_role("link", name=activity.pars_id).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=re.compile("Hypertension Update")).is_visible()
    assert page.get_by_role("link", name="Edit activity").count() == 0
    assert page.get_by_role("heading", name="Enter a participant").count() == 0
    assert page.goto(f"/activities/{activity.pars_id}/edit/").status == 403
    assert page.goto(f"/providers/{provider_a.accme_id}/staff/").status == 403
