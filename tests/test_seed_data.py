"""Transactional tests (live server, threads, browsers) put the reference data back after the
flush with tests/conftest.py's seed_reference_data(): it must be exactly what activities'
data migration seeds on a fresh database."""

from django.contrib.auth.models import Group

from activities.models import Board, CreditType, Deadline

from .conftest import seed_reference_data


def reference_data():
    return (
        list(Board.objects.order_by("code").values(
            "code", "name", "board_id_pattern", "board_id_length", "board_id_description")),
        list(CreditType.objects.order_by("board__code", "code").values_list(
            "board__code", "code", "label")),
        list(Deadline.objects.order_by("year").values_list(
            "year", "due_date", "grace_until", "note")),
        sorted(Group.objects.values_list("name", flat=True)),
    )  # fmt: skip


def test_seed_reference_data_puts_back_what_the_migration_seeds(db):
    migrated = reference_data()
    assert all(migrated)
    CreditType.objects.all().delete()
    Board.objects.all().delete()
    Deadline.objects.all().delete()
    Group.objects.all().delete()
    assert not any(reference_data())
    seed_reference_data()
    assert reference_data() == migrated
    seed_reference_data()  # as the migration, a second time changes nothing
    assert reference_data() == migrated
