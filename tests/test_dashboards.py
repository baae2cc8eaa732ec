"""The status dashboards: every figure is right for known data, every figure is a link that
opens a list of exactly that many records, and provider staff only ever see their own
provider's figures."""

import datetime as dt
from decimal import Decimal

import lxml.html
import pytest
import time_machine
from django.utils import timezone

from activities.models import Channel, ProviderMembership
from pars_portal.benchmarks.harness import figure_links
from participants.models import Completion, FollowUp, TransmissionBatch

from .conftest import make_activity, make_completion, make_user

YEAR = 2025
TODAY = dt.datetime(2025, 11, 20, 12, 0, tzinfo=dt.UTC)  # deadlines ahead: 2025 and 2026


def aware(y, m, d, h=12):
    return timezone.make_aware(dt.datetime(y, m, d, h))


def record(activity, learner, date, status="accepted", channel=Channel.FORM, **fields):
    completion = make_completion(
        activity, learner_id=learner, completion_date=date, status=status, channel=channel,
        **fields,
    )  # fmt: skip
    # Recorded and answered a few days after completion (on time), unless a test says else.
    stamps = {"created_at": aware(date.year, date.month, date.day) + dt.timedelta(days=3)}
    stamps["status_changed_at"] = stamps["created_at"] + dt.timedelta(days=1)
    stamps.update({k: v for k, v in fields.items() if k in ("created_at", "status_changed_at")})
    Completion.objects.filter(pk=completion.pk).update(**stamps)
    return completion


@pytest.fixture
def data(provider_a, provider_b, editor_a, editor_b):
    """Provider A: 2 submitted, 3 accepted, 2 rejected, 1 deleted in 2025, plus a sandbox
    record, a 2024 record, a registered activity without records and one not registered.
    Provider B: 4 rejected and 1 accepted in 2025."""
    a1 = make_activity(provider_a, editor_a, title="A one", codes=("MK", "PS"),
                       start=dt.date(2025, 1, 1))  # fmt: skip
    a2 = make_activity(provider_a, editor_a, title="A two (empty)", start=dt.date(2025, 5, 1))
    make_activity(provider_a, editor_a, title="A three", points=None, start=dt.date(2025, 2, 1))
    a0 = make_activity(provider_a, editor_a, title="A of 2024", start=dt.date(2024, 10, 1))
    b1 = make_activity(provider_b, editor_b, title="B one", start=dt.date(2025, 1, 1))
    d = dt.date
    records = {
        "acc_mar_form": record(a1, "100001", d(2025, 3, 3)),
        "acc_mar_api": record(a1, "100002", d(2025, 3, 20), channel=Channel.API),
        "acc_jun_upload": record(a1, "100003", d(2025, 6, 9), channel=Channel.UPLOAD),
        "sub_jun_api": record(a1, "100004", d(2025, 6, 10), "submitted", Channel.API),
        "sub_jul_form": record(a1, "100005", d(2025, 7, 1), "submitted"),
        "rej_jul": record(a1, "100006", d(2025, 7, 15), "rejected", Channel.UPLOAD,
                          status_reason="Birth date does not match",
                          status_changed_at=aware(2025, 7, 20)),
        "rej_aug": record(a1, "100007", d(2025, 8, 2), "rejected", Channel.UPLOAD,
                          status_reason="Unknown board ID", status_changed_at=aware(2025, 8, 9)),
        "del_mar": record(a1, "100008", d(2025, 3, 4), "deleted", Channel.API,
                          status_reason="Entered twice"),
        "sandbox": record(a1, "100009", d(2025, 3, 5), "rejected", Channel.API, is_sandbox=True,
                          status_reason="Unknown board ID"),
        "old": record(a0, "100010", d(2024, 12, 1)),
    }  # fmt: skip
    for n in range(4):
        records[f"b_rej_{n}"] = record(b1, f"20000{n}", d(2025, 4, 1 + n), "rejected",
                                       status_reason="Unknown board ID")  # fmt: skip
    records["b_acc"] = record(b1, "200009", d(2025, 4, 9))
    return {"a1": a1, "a2": a2, "b1": b1, **records}


def listed(client, href) -> int:
    response = client.get(href)
    assert response.status_code == 200, href
    return response.context["page"].paginator.count


def cards(html):
    doc = lxml.html.fromstring(html)
    return {
        a.get("data-status"): int(a.xpath(".//*[@data-number]")[0].text_content())
        for a in doc.xpath("//*[@id='status-counts']//a[@data-status]")
    }


@pytest.fixture
def at_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def test_reviewer_ranking_shows_the_ten_largest_ties_by_name(client_of, reviewer, at_today):
    """Twelve providers with rejected records: the ranking shows the ten with the most,
    and among equal counts the first names alphabetically (Zeta, then K00–K08; K09 with
    as many as K08 and Alpha with fewer are left out), each with its own count."""
    from activities.models import Provider

    counts = {"Zeta": 5, "Alpha": 1} | {f"K{i:02d}": 2 for i in reversed(range(10))}
    for i, (name, n) in enumerate(counts.items()):
        provider = Provider.objects.create(accme_id=f"{9000000 + i:07d}", name=name)
        editor = make_user(f"editor-{i}")
        ProviderMembership.objects.create(user=editor, provider=provider, role="editor")
        activity = make_activity(provider, editor, start=dt.date(YEAR, 1, 1))
        for day in range(1, n + 1):
            make_completion(activity, completion_date=dt.date(YEAR, 3, day), status="rejected")
    context = client_of(reviewer).get(f"/?year={YEAR}").context
    assert [(r["name"], r["count"]) for r in context["by_rejected"]] == [("Zeta", 5)] + [
        (f"K{i:02d}", 2) for i in range(9)
    ]


def test_provider_dashboard_counts(client_of, editor_a, data, at_today):
    response = client_of(editor_a).get(f"/?year={YEAR}")
    html = response.content.decode()
    assert cards(html) == {"submitted": 2, "accepted": 3, "rejected": 2, "deleted": 1}
    figures = response.context["figures"]
    march, june, july, august = (figures.by_month[m] for m in (2, 5, 6, 7))
    assert march == {"accepted": 2, "deleted": 1}
    assert june == {"accepted": 1, "submitted": 1}
    assert july == {"submitted": 1, "rejected": 1}
    assert august == {"rejected": 1}
    assert sum(sum(m.values()) for m in figures.by_month) == 8
    # Received by (deleted records not counted): form 2, API 2, upload 3.
    assert figures.by_channel == {"form": 2, "api": 2, "upload": 3}
    # Rejected records needing action, newest rejection first, with the reason.
    needing = [r.pk for r in response.context["needing_action"]]
    assert needing == [data["rej_aug"].pk, data["rej_jul"].pk]
    assert "Unknown board ID" in html and "Birth date does not match" in html
    # Registered activities of the year: the empty one first and flagged.
    registered = response.context["registered"]
    assert [(a["title"], a["records"], a["rejected"]) for a in registered] == [
        ("A two (empty)", 0, 0),
        ("A one", 7, 2),
    ]
    assert registered[1]["points"] == Decimal("70")
    assert response.context["registered_empty"] == 1
    assert "None yet" in html
    # Deadlines ahead with what is still open.
    deadlines = {d.year: (d.rejected, d.without_records) for d in response.context["deadlines"]}
    assert deadlines == {2025: (2, 1), 2026: (0, 0)}


def test_every_provider_figure_opens_a_list_of_that_many_records(
    client_of, editor_a, data, at_today
):
    client = client_of(editor_a)
    links = figure_links(client.get(f"/?year={YEAR}").content.decode())
    kinds = {name for name, _, _ in links}
    assert {"status", "month", "channel", "rejected", "without-records", "registered",
            "registered-empty", "activity-records", "activity-rejected",
            "api-records"} <= kinds  # fmt: skip
    for name, shown, href in links:
        assert listed(client, href) == shown, (name, href)


def test_reviewer_dashboard_counts(client_of, reviewer, data, at_today):
    late = data["acc_jun_upload"]  # sent after the 2025 deadline (12/31/2025)
    Completion.objects.filter(pk=late.pk).update(created_at=aware(2026, 1, 3))
    # Sent on the deadline's last day (late evening, Chicago time): on time.
    Completion.objects.filter(pk=data["b_acc"].pk).update(created_at=aware(2025, 12, 31, 23))
    batch = TransmissionBatch.objects.create(board=late.board, file="t.xml", additions=3,
                                             status=TransmissionBatch.Status.SENT)  # fmt: skip
    TransmissionBatch.objects.filter(pk=batch.pk).update(created_at=aware(2025, 11, 1, 8))
    sent = [data["acc_mar_form"], data["rej_jul"], data["sub_jun_api"]]
    Completion.objects.filter(pk__in=[r.pk for r in sent]).update(
        transmitted_in=batch, transmitted_at=aware(2025, 11, 1, 8)
    )
    Completion.objects.filter(pk=data["acc_mar_form"].pk).update(
        board_confirmed_at=aware(2025, 11, 1, 11)
    )
    now = timezone.now()
    for key, days, resolved in (
        ("rej_jul", 3, ""),
        ("rej_aug", 40, ""),
        ("b_rej_0", 2, "withdrawn"),
    ):
        follow_up = FollowUp.objects.create(completion=data[key], resolution=resolved)
        FollowUp.objects.filter(pk=follow_up.pk).update(created_at=now - dt.timedelta(days=days))

    response = client_of(reviewer).get(f"/?year={YEAR}")
    html = response.content.decode()
    context = response.context
    assert cards(html) == {"submitted": 2, "accepted": 4, "rejected": 6, "deleted": 1}
    assert [(r["name"], r["count"]) for r in context["by_rejected"]] == [
        ("Provider B", 4), ("Provider A", 2),
    ]  # fmt: skip
    assert [(r["name"], r["count"]) for r in context["by_late"]] == [("Provider A", 1)]
    assert [(r["status_reason"], r["n"]) for r in context["reasons"]] == [
        ("Unknown board ID", 5), ("Birth date does not match", 1),
    ]  # fmt: skip
    assert [a["count"] for a in context["ages"]] == [1, 0, 1, 0]
    assert context["open_follow_ups"] == 2
    (shown,) = context["batches"]
    assert [c["count"] for c in shown.counts] == [1, 1, 1]  # waiting, confirmed, rejected
    assert shown.lag == dt.timedelta(hours=3)
    assert "3 h 0 min" in html
    assert context["awaiting"]["n"] == 1  # sent, no answer yet
    deadlines = {d.year: (d.rejected, d.without_records) for d in context["deadlines"]}
    assert deadlines == {2025: (6, 1), 2026: (0, 0)}


def test_every_reviewer_figure_opens_a_list_of_that_many_records(
    client_of, reviewer, data, at_today
):
    Completion.objects.filter(pk=data["acc_jun_upload"].pk).update(created_at=aware(2026, 1, 3))
    Completion.objects.filter(pk=data["b_acc"].pk).update(created_at=aware(2025, 12, 31, 23))
    batch = TransmissionBatch.objects.create(board=data["a1"].registrations.get().board,
                                             file="t.xml", additions=2, deletions=1,
                                             status=TransmissionBatch.Status.SENT)  # fmt: skip
    Completion.objects.filter(pk__in=[data["acc_mar_form"].pk, data["rej_jul"].pk]).update(
        transmitted_in=batch, transmitted_at=timezone.now()
    )
    Completion.objects.filter(pk=data["del_mar"].pk).update(deletion_transmitted_in=batch)
    Completion.objects.filter(pk=data["b_rej_3"].pk).update(status_reason="")  # no reason
    for key, days in (("rej_jul", 3), ("rej_aug", 40), ("b_rej_1", 200)):
        follow_up = FollowUp.objects.create(completion=data[key])
        FollowUp.objects.filter(pk=follow_up.pk).update(
            created_at=timezone.now() - dt.timedelta(days=days)
        )
    client = client_of(reviewer)
    links = figure_links(client.get(f"/?year={YEAR}").content.decode())
    kinds = {name for name, _, _ in links}
    assert {"status", "month", "channel", "rejected", "late", "reason", "age", "queue-open",
            "batch-records", "batch-deletions", "batch-waiting", "batch-confirmed",
            "batch-rejected", "awaiting", "without-records"} <= kinds  # fmt: skip
    assert ("reason", 1) in {(name, shown) for name, shown, _ in links}  # the one without
    for name, shown, href in links:
        assert listed(client, href) == shown, (name, href)


def test_year_selector_changes_the_figures(client_of, editor_a, data, at_today):
    client = client_of(editor_a)
    assert cards(client.get("/?year=2024").content.decode())["accepted"] == 1
    assert cards(client.get("/?year=2025").content.decode())["accepted"] == 3
    # The default is the current year; an unknown year falls back to it.
    assert client.get("/").context["year"] == 2025
    assert client.get("/?year=1999").context["year"] == 2025


def test_provider_staff_see_only_their_own_figures(client_of, editor_b, data, at_today):
    client = client_of(editor_b)
    response = client.get(f"/?year={YEAR}")
    html = response.content.decode()
    assert cards(html) == {"submitted": 0, "accepted": 1, "rejected": 4, "deleted": 0}
    assert "Provider A" not in html and "A one" not in html and "100006" not in html
    assert "Providers by rejected records" not in html  # not the reviewers' dashboard
    # Every link from B's dashboard lists B's records only.
    for _name, _shown, href in figure_links(html):
        page = client.get(href).context["page"]
        assert all(getattr(r, "provider_id", data["b1"].provider_id) == data["b1"].provider_id
                   for r in page.object_list)  # fmt: skip
    # Asking for provider A's dashboard by its ACCME ID is a 404, not A's figures.
    assert client.get("/?provider=0001234").status_code == 404


def test_staff_of_two_providers_choose_one(client_of, editor_a, provider_b, data, at_today):
    ProviderMembership.objects.create(user=editor_a, provider=provider_b, role="viewer")
    client = client_of(editor_a)
    both = cards(client.get(f"/?year={YEAR}").content.decode())
    assert both["rejected"] == 6
    only_b = client.get(f"/?year={YEAR}&provider=0005678")
    assert cards(only_b.content.decode())["rejected"] == 4
    for _name, shown, href in figure_links(only_b.content.decode()):
        assert listed(client, href) == shown


def test_reviewer_opens_one_providers_dashboard(client_of, reviewer, data, at_today):
    client = client_of(reviewer)
    response = client.get(f"/?year={YEAR}&provider=0001234")
    assert cards(response.content.decode())["rejected"] == 2
    for _name, shown, href in figure_links(response.content.decode()):
        assert listed(client, href) == shown


def test_viewer_sees_the_dashboard(client_of, viewer_a, data, at_today):
    assert cards(client_of(viewer_a).get(f"/?year={YEAR}").content.decode())["accepted"] == 3


def test_user_without_provider_is_told_to_ask_accme(client_of, db):
    response = client_of(make_user("nobody")).get("/")
    assert "not linked to a provider" in response.content.decode()


def test_provider_dashboard_queries_do_not_grow_with_the_data(
    client_of, editor_a, provider_a, data, at_today, django_assert_max_num_queries
):
    client = client_of(editor_a)
    with django_assert_max_num_queries(12):
        client.get(f"/?year={YEAR}")
    for n in range(30):  # more records, activities and months: still the same queries
        activity = make_activity(provider_a, editor_a, title=f"More {n}", start=dt.date(2025, 1, 1))
        record(activity, f"3000{n:02d}", dt.date(2025, 1 + n % 12, 5), "rejected",
               status_reason=f"Reason {n % 3}")  # fmt: skip
    with django_assert_max_num_queries(12):
        response = client.get(f"/?year={YEAR}")
    assert cards(response.content.decode())["rejected"] == 32


def test_late_filter_lists_records_sent_after_their_deadline(client_of, editor_a, data):
    Completion.objects.filter(pk=data["acc_jun_upload"].pk).update(created_at=aware(2026, 1, 3))
    # The last day of the deadline itself is on time.
    Completion.objects.filter(pk=data["acc_mar_api"].pk).update(created_at=aware(2025, 12, 31, 23))
    page = client_of(editor_a).get("/participants/?late=late").context["page"]
    assert [r.pk for r in page.object_list] == [data["acc_jun_upload"].pk]


@pytest.mark.parametrize("mode", ["provisional", "board"])
def test_records_sent_and_not_answered_are_waiting_in_either_acceptance_mode(
    client_of, reviewer, activity_a, editor_a, roster, settings, media_root, mode
):
    """Through the real pipeline and transmission: in provisional mode the records sent are
    already accepted, in board mode still submitted; either way they wait for the board
    until it answers (here the SIMULATED board: one confirmed, one rejected)."""
    from participants.transmission import ingest_answers, simulated_board_answers, transmit

    from .test_intake import row, submit

    settings.ACCEPTANCE_MODE = mode
    rows = [row(activity_a, 1), row(activity_a, 2, first_name="Janet", credit_type="PS")]
    submit(activity_a, rows, editor_a)
    (batch,) = transmit()
    client = client_of(reviewer)
    year = rows[0].completion_date.year

    def board_figures():
        links = figure_links(client.get(f"/?year={year}").content.decode())
        for name, shown, href in links:
            assert listed(client, href) == shown, (name, href)
        wanted = ("awaiting", "batch-waiting", "batch-confirmed", "batch-rejected")
        return {name: shown for name, shown, _ in links if name in wanted}

    assert board_figures() == {
        "awaiting": 2, "batch-waiting": 2, "batch-confirmed": 0, "batch-rejected": 0,
    }  # fmt: skip
    ingest_answers(simulated_board_answers(batch))
    assert board_figures() == {
        "awaiting": 0, "batch-waiting": 0, "batch-confirmed": 1, "batch-rejected": 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    "url",
    [
        "/participants/?late=late&date_to=9999-12-31",
        "/participants/?late=late&date_from=0001-01-01",
        "/participants/?late=late&date_from=1000-01-01&date_to=9999-12-31",
        "/participants/?batch=99999999999999999999",
        "/participants/?deletion_batch=-1",
        "/participants/?upload=99999999999999999999999999",
        "/activities/?year=99999999999999999999",
        "/review/?older_than=99999999999999999999",
        "/review/?younger_than=99999999999999999999",
        "/admin/participants/completion/?completion_year=0",
        "/admin/participants/completion/?completion_year=10000",
        "/admin/participants/completion/?completion_year=99999999999999999999",
        "/?year=99999999999999999999",
    ],
)
def test_extreme_filter_values_are_answered_not_a_server_error(client_of, reviewer, data, url):
    response = client_of(reviewer).get(url)
    assert response.status_code in (200, 302), url
    if url.startswith(("/participants/", "/review/")):
        # Nothing matches an impossible id or age; none of the records is late.
        assert response.context["page"].paginator.count == 0, url


def test_the_charts_table_has_the_same_figures_as_the_chart(client_of, editor_a, data, at_today):
    """The chart is also a table (for screen readers and keyboards): the same counts, each
    opening the same list; the chart itself is a group of links, not an image."""
    html = client_of(editor_a).get(f"/?year={YEAR}").content.decode()
    links = figure_links(html)
    chart = sorted((shown, href) for name, shown, href in links if name == "month")
    table = sorted((shown, href) for name, shown, href in links if name == "month-table")
    assert chart and chart == table
    svg = lxml.html.fromstring(html).xpath("//*[@id='month-chart']")[0]
    assert svg.get("role") == "group"
