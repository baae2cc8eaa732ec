"""Seed data every installation needs: ABIM with its credit types, the reporting deadlines
of pars-spec §6 (reviewers edit them afterwards), and the reviewers group."""

import datetime as dt

from django.db import migrations

CREDIT_TYPES = [
    ("MK", "Medical Knowledge"),
    ("PA", "Practice Assessment"),
    ("PS", "Patient Safety"),
]


def seed(apps, schema_editor):
    Board = apps.get_model("activities", "Board")
    CreditType = apps.get_model("activities", "CreditType")
    Deadline = apps.get_model("activities", "Deadline")
    Group = apps.get_model("auth", "Group")

    abim, _ = Board.objects.get_or_create(
        code="ABIM",
        defaults={
            "name": "American Board of Internal Medicine",
            "board_id_pattern": r"^\d{6}$",
            "board_id_length": 6,
            "board_id_description": "6 digits",
        },
    )
    for code, label in CREDIT_TYPES:
        CreditType.objects.get_or_create(board=abim, code=code, defaults={"label": label})

    Deadline.objects.get_or_create(
        year=2014,
        defaults={"due_date": dt.date(2016, 6, 30),
                  "note": "2014 completions only: due by June 30, 2016."},
    )
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

    Group.objects.get_or_create(name="reviewers")


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
