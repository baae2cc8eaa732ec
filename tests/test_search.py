"""The participant search as provider staff use it: the beginning of a name however it is
typed, the first digits of an ABIM ID, an activity by its title or ID, a date range that
says when it is backwards, deleted records out of the way until asked for, and every
filter in force shown with a way to remove it."""

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from participants.filters import prefix_match
from participants.models import Completion, name_key

from .conftest import make_activity, make_completion


def found(client, **params) -> list[str]:
    """Last names on the search page for these parameters, in the page's order."""
    response = client.get(reverse("participant_search"), params)
    assert response.status_code == 200
    page = response.content.decode()
    return sorted(
        Completion.objects.get(pk=int(pk)).last_name
        for pk in re.findall(r'href="/participants/(\d+)/"', page)
    )


@pytest.fixture
def people(activity_a):
    for n, (first, last) in enumerate(
        [
            ("Jürgen", "Müller"),
            ("Anna", "Muller"),
            ("Sean", "Mulligan"),
            ("Jane", "Smith"),
            ("Siobhán", "O'Neil"),
            ("Zoë", "Zzyzx"),
            ("Øystein", "Østergaard"),
        ]  # fmt: skip
    ):
        make_completion(activity_a, first_name=first, last_name=last,
                        learner_id=f"{123450 + n}")  # fmt: skip


def test_name_keys_fold_accents_case_and_punctuation():
    assert name_key("Müller-Lüdenscheidt") == "MULLERLUDENSCHEIDT"
    assert name_key("O'Neil") == name_key("oneil") == "ONEIL"
    assert name_key("Østergaard") == "OSTERGAARD"
    assert name_key("Strauß") == "STRAUSS"
    assert name_key("  de la  Cruz ") == "DELACRUZ"


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        ("mul", ["Muller", "Mulligan", "Müller"]),
        ("MÜL", ["Muller", "Mulligan", "Müller"]),
        ("muller", ["Muller", "Müller"]),
        ("o'n", ["O'Neil"]),
        ("oneil", ["O'Neil"]),
        ("ost", ["Østergaard"]),
        ("zz", ["Zzyzx"]),  # a prefix ending in the alphabet's last letter
        ("smythe", []),
    ],
)
def test_last_name_prefix_ignores_case_accents_and_punctuation(
    client_of, editor_a, people, typed, names
):
    assert found(client_of(editor_a), last_name=typed) == names


def test_first_name_prefix_narrows_the_last_name(client_of, editor_a, people):
    client = client_of(editor_a)
    assert found(client, last_name="mul", first_name="JU") == ["Müller"]
    assert found(client, first_name="siob") == ["O'Neil"]
    assert found(client, first_name="zoe") == ["Zzyzx"]


def test_abim_id_prefix(client_of, editor_a, activity_a):
    for learner in ["123456", "123499", "124000", "990000", "999999"]:
        make_completion(activity_a, learner_id=learner, last_name=f"L{learner}")
    client = client_of(editor_a)
    assert found(client, learner_id="1234") == ["L123456", "L123499"]
    assert found(client, learner_id="123456") == ["L123456"]
    assert found(client, learner_id="99") == ["L990000", "L999999"]  # 9s carry over
    assert found(client, learner_id="12 34") == ["L123456", "L123499"]


def test_prefix_ranges_carry_over_the_last_letter():
    query = str(prefix_match("k", "AZZ"))
    assert "'k__gte', 'AZZ'" in query and "'k__lt', 'B'" in query
    assert "'k__lt'" not in str(prefix_match("k", "ZZ"))
    assert "'k__lt', '124'" in str(prefix_match("k", "123"))
    assert "'k__lt', 'A'" in str(prefix_match("k", "9"))
    # Outside the keys' alphabet: the plain prefix test only.
    assert str(prefix_match("k", "ab")) == "(AND: ('k__startswith', 'ab'))"


def test_activity_by_title_words_or_id(client_of, editor_a, provider_a, activity_a):
    other = make_activity(provider_a, editor_a, title="Renal Grand Rounds")
    make_completion(activity_a, last_name="InFirst")
    make_completion(other, last_name="InRenal")
    client = client_of(editor_a)
    assert found(client, activity="renal grand") == ["InRenal"]
    assert found(client, activity=other.pars_id.lstrip("0")) == ["InRenal"]
    assert found(client, activity=activity_a.pars_id) == ["InFirst"]


def test_a_reversed_date_range_is_an_error_not_an_empty_list(client_of, editor_a, activity_a):
    make_completion(activity_a, last_name="Smith")
    response = client_of(editor_a).get(
        reverse("participant_search"), {"date_from": "2015-12-31", "date_to": "2015-01-01"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    errors = page[page.index('id="search-errors"') :]
    assert "is before" in errors[: errors.index("</div>")]
    assert "12/31/2015" in errors and "01/01/2015" in errors


def test_deleted_and_superseded_records_are_hidden_until_asked_for(client_of, editor_a, activity_a):
    make_completion(activity_a, last_name="Current")
    make_completion(activity_a, last_name="Gone", status="deleted", learner_id="234567")
    client = client_of(editor_a)
    assert found(client) == ["Current"]
    page = client.get(reverse("participant_search")).content.decode()
    chip = re.search(
        r'data-filter="status">Deleted and superseded records hidden\s*'
        r'<a class="link-primary small" href="([^"]+)">Show them</a>',
        page,
    )
    assert chip, "the hidden-records chip with its one-click link"
    shown = parse_qs(urlparse(chip.group(1).replace("&amp;", "&")).query)
    assert shown == {"status": ["all"]}
    assert found(client, status="all") == ["Current", "Gone"]
    assert found(client, status="deleted") == ["Gone"]
    assert found(client, status="current") == ["Current"]  # links made before the change


def test_every_active_filter_is_shown_and_removable_hidden_ones_included(
    client_of, editor_a, activity_a
):
    record = make_completion(activity_a, last_name="Smith")
    params = {"last_name": "smi", "upload": "7", "batch": "9", "date_from": "2015-01-01"}
    page = client_of(editor_a).get(reverse("participant_search"), params).content.decode()
    chips = dict(re.findall(r'data-filter="(\w+)">([^<]+)', page))
    assert chips["upload"].strip() == "From upload 7"
    assert chips["batch"].strip() == "Carried by transmission batch 9"
    assert chips["last_name"].strip() == "Last name: smi"
    assert chips["date_from"].strip() == "Completed from: 01/01/2015"
    # Each chip's × removes exactly that filter.
    removals = re.findall(r'href="(\?[^"]*)" aria-label="Remove the filter ([^"]+)"', page)
    by_text = {text: parse_qs(urlparse(url.replace("&amp;", "&")).query) for url, text in removals}
    assert by_text["From upload 7"] == {
        "last_name": ["smi"], "batch": ["9"], "date_from": ["2015-01-01"]
    }  # fmt: skip
    assert found(client_of(editor_a), last_name="smi") == [record.last_name]


def test_the_export_follows_the_same_defaults(client_of, editor_a, activity_a):
    make_completion(activity_a, last_name="Current")
    make_completion(activity_a, last_name="Gone", status="deleted", learner_id="234567")
    client = client_of(editor_a)

    def exported(query):
        response = client.get(reverse("participant_export", args=["csv"]) + query)
        return b"".join(response.streaming_content).decode("utf-8-sig")

    assert "Current" in exported("") and "Gone" not in exported("")
    assert "Gone" in exported("?status=all")


def test_search_dates_still_filter(client_of, editor_a, activity_a):
    make_completion(activity_a, last_name="Early", completion_date=dt.date(2015, 3, 1))
    make_completion(activity_a, last_name="Late", completion_date=dt.date(2015, 11, 1),
                    learner_id="234567")  # fmt: skip
    client = client_of(editor_a)
    assert found(client, date_from="2015-06-01") == ["Late"]
    assert found(client, date_to="2015-06-01") == ["Early"]
