"""Loading the board's roster of diplomates (`manage.py load_roster`) and the demo data
(`manage.py load_demo`)."""

import io

import lxml.html
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from activities.models import Activity, MocRegistration, Provider, ProviderMembership
from participants.models import RosterEntry

HEADER = "board_id,first_name,last_name,birth_month,birth_day\n"


def write(tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("load_roster", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def roster():
    return {
        e.learner_id: (e.first_name, e.last_name, e.birth_month, e.birth_day)
        for e in RosterEntry.objects.all()
    }


def test_roster_file_is_loaded(db, tmp_path):
    path = write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n234567,Omar,Haddad,02,29\n")
    out, _ = load(path)
    assert roster() == {
        "123456": ("Jane", "Smith", 7, 14),
        "234567": ("Omar", "Haddad", 2, 29),
    }
    assert "created: 2" in out


def test_id_that_lost_its_leading_zeros_is_padded(db, tmp_path):
    load(write(tmp_path, HEADER + "1234,Ann,Lee,1,2\n"))
    assert list(RosterEntry.objects.values_list("learner_id", flat=True)) == ["001234"]


def test_same_file_twice_creates_nothing(db, tmp_path):
    path = write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n234567,Omar,Haddad,2,29\n")
    load(path)
    out, _ = load(path)
    assert RosterEntry.objects.count() == 2
    assert "created: 0" in out
    assert "already_present: 2" in out


def test_later_file_updates_names(db, tmp_path):
    load(write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n", "january.csv"))
    loaded = RosterEntry.objects.get().updated_at
    load(write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n", "january-again.csv"))
    assert RosterEntry.objects.get().updated_at == loaded  # the same learner: untouched
    load(write(tmp_path, HEADER + "123456,Jane,Smith-Okafor,7,14\n", "february.csv"))
    assert roster() == {"123456": ("Jane", "Smith-Okafor", 7, 14)}
    assert RosterEntry.objects.get().updated_at > loaded


def test_a_later_row_for_the_same_learner_wins_and_others_stay(db, tmp_path):
    load(write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n345678,Wei,Liu,3,3\n", "a.csv"))
    out, _ = load(write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n234567,Omar,Haddad,2,2\n"
                        "123456,Janet,Smith,8,15\n", "b.csv"))  # fmt: skip
    assert roster() == {
        "123456": ("Janet", "Smith", 8, 15),
        "234567": ("Omar", "Haddad", 2, 2),
        "345678": ("Wei", "Liu", 3, 3),
    }
    assert "rows: 2" in out and "created: 1" in out and "already_present: 1" in out


def test_file_with_a_bad_row_is_refused_whole(db, tmp_path):
    path = write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n234567,Omar,Haddad,13,29\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load_roster", str(path), stdout=io.StringIO(), stderr=err)
    assert "Row 3, birth_month" in err.getvalue()
    assert not RosterEntry.objects.exists()


def test_skip_invalid_loads_the_good_rows(db, tmp_path):
    path = write(tmp_path, HEADER + "123456,Jane,Smith,7,14\n234567,Omar,Haddad,13,29\n")
    out, err = load(path, "--skip-invalid")
    assert list(roster()) == ["123456"]
    assert "Row 3, birth_month" in err
    assert "invalid: 1" in out


def test_wrong_header_is_refused(db, tmp_path):
    path = write(tmp_path, "id,name,birthday\n123456,Jane Smith,07/14\n")
    with pytest.raises(CommandError, match="needs a header row"):
        load(path)
    assert not RosterEntry.objects.exists()


def test_birth_date_column_keeps_month_and_day_only(db, tmp_path):
    path = write(
        tmp_path,
        "board_id,first_name,last_name,birth_date\n123456,Jane,Smith,1971-07-14\n"
        "234567,Omar,Haddad,--02-29\n",
    )
    load(path)
    assert roster() == {
        "123456": ("Jane", "Smith", 7, 14),
        "234567": ("Omar", "Haddad", 2, 29),
    }
    assert not any(field.name.endswith("year") for field in RosterEntry._meta.get_fields())


def test_excel_bom_and_spaces_are_tolerated(db, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(("\ufeff" + HEADER + " 123456 , Jane , Smith , 07 , 14 \n\n").encode())
    load(path)
    assert roster() == {"123456": ("Jane", "Smith", 7, 14)}


def test_abim_id_with_seven_digits_is_refused(db, tmp_path):
    path = write(tmp_path, HEADER + "1234567,Jane,Smith,7,14\n")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("load_roster", str(path), stdout=io.StringIO(), stderr=err)
    assert "Row 2, board_id" in err.getvalue()
    assert not RosterEntry.objects.exists()


def test_february_30_is_refused(db, tmp_path):
    path = write(tmp_path, HEADER + "123456,Jane,Smith,2,30\n")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("load_roster", str(path), stdout=io.StringIO(), stderr=err)
    assert "Row 2, birth_day" in err.getvalue()
    assert not RosterEntry.objects.exists()


def test_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        load(tmp_path / "nowhere.csv")


# --- Demo data ------------------------------------------------------------------------


def counts():
    return {
        "users": User.objects.count(),
        "providers": Provider.objects.count(),
        "memberships": ProviderMembership.objects.count(),
        "activities": Activity.objects.count(),
        "registrations": MocRegistration.objects.count(),
        "roster": RosterEntry.objects.count(),
    }


@pytest.mark.slow  # the whole demo data set, twice
def test_demo_data_twice_changes_nothing(db):
    call_command("load_demo", stdout=io.StringIO())
    first = counts()
    call_command("load_demo", stdout=io.StringIO())
    assert counts() == first
    assert first["providers"] == 2
    assert first["activities"] == 6
    assert first["roster"] == 10_000
    assert User.objects.get(username="reviewer").groups.filter(name="reviewers").exists()


@pytest.mark.slow  # the whole demo data set
@pytest.mark.parametrize("today", ["2031-03-10", "2032-01-02"])
def test_demo_data_is_of_the_current_year_so_the_dashboard_opens_on_figures(db, client, today):
    import time_machine

    from participants.models import Completion

    with time_machine.travel(f"{today} 15:00", tick=False):
        call_command("load_demo", stdout=io.StringIO())
        year = int(today[:4])
        assert set(Activity.objects.values_list("reporting_year", flat=True)) == {year}
        dates = Completion.objects.values_list("completion_date", flat=True)
        assert dates and {d.year for d in dates} == {year}
        client.force_login(User.objects.get(username="editor-a"))
        page = client.get("/").content.decode()
    assert f"Hypertension Update {year}" in page
    cards = lxml.html.fromstring(page).xpath('//*[@data-figure="status"]')
    counts = {card.get("data-status"): int(card.get("data-count")) for card in cards}
    assert counts["accepted"] > 0 and counts["rejected"] > 0, counts


def test_demo_data_refused_where_disabled(db, settings):
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="disabled"):
        call_command("load_demo", stdout=io.StringIO())
    assert not User.objects.exists()
    assert not Provider.objects.exists()
