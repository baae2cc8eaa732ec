"""Rules the database and the services keep, whatever channel writes: duplicates, value
checks with the words users read, PARS IDs, registration and the append-only history."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from activities import services as activity_services
from activities.models import (
    Activity,
    ActivityEvent,
    Attestation,
    MocRegistration,
    Provider,
)
from activities.validators import validate_activity_id
from participants.models import Completion, CompletionEvent
from participants.services import records as participant_services

from .conftest import completion_values, make_activity, make_completion


def refused_by_database(**values):
    with pytest.raises(IntegrityError), transaction.atomic():
        Completion.objects.create(**values)


def withdraw(completion, actor):
    participant_services.completion_delete(
        completion=completion, actor=actor, reason="Entered twice", channel="form"
    )


def field_errors(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


# --- Duplicates -----------------------------------------------------------------------


def test_same_learner_activity_credit_type_and_date_is_a_duplicate(activity_a):
    make_completion(activity_a)
    refused_by_database(**completion_values(activity_a, first_name="Janet"))
    assert Completion.objects.count() == 1


def test_duplicate_is_reported_as_already_reported_by_full_clean(activity_a):
    make_completion(activity_a)
    errors = field_errors(Completion(**completion_values(activity_a)))
    assert any("Already reported" in message for message in errors["__all__"])


def test_record_can_be_reported_again_once_deleted(activity_a, editor_a):
    withdraw(make_completion(activity_a), editor_a)
    again = make_completion(activity_a)
    assert again.status == Completion.Status.SUBMITTED
    assert Completion.objects.filter(learner_id="123456").count() == 2


def test_other_credit_type_is_not_a_duplicate(activity_a):
    make_completion(activity_a, credit="MK")
    make_completion(activity_a, credit="PS")
    assert Completion.objects.count() == 2


def test_other_completion_date_is_not_a_duplicate(activity_a):
    make_completion(activity_a)
    make_completion(activity_a, completion_date=activity_a.start_date + dt.timedelta(days=31))
    assert Completion.objects.count() == 2


def test_credit_id_is_unique_per_provider(activity_a, activity_b):
    make_completion(activity_a, credit_id="ccid:lms:42")
    refused_by_database(
        **completion_values(activity_a, learner_id="234567", credit_id="ccid:lms:42")
    )
    # Another provider may use the same credit ID.
    make_completion(activity_b, credit_id="ccid:lms:42")
    assert Completion.objects.filter(credit_id="ccid:lms:42").count() == 2


def test_credit_id_can_be_used_again_once_deleted(activity_a, editor_a):
    withdraw(make_completion(activity_a, credit_id="ccid:lms:42"), editor_a)
    make_completion(activity_a, learner_id="234567", credit_id="ccid:lms:42")
    assert Completion.objects.filter(credit_id="ccid:lms:42").count() == 2


def test_records_without_credit_id_get_distinct_minted_ones_of_the_drafts_form(activity_a):
    first = make_completion(activity_a, learner_id="123456")
    second = make_completion(activity_a, learner_id="234567")
    assert first.credit_id != second.credit_id
    for record in (first, second):
        assert re.fullmatch(r"ccid:pars:[^:]+", record.credit_id)
        record.refresh_from_db()
        assert re.fullmatch(r"ccid:pars:[^:]+", record.credit_id)  # stored, so stable


def test_minted_credit_ids_never_repeat_across_batches_threads_and_forks():
    """They are drawn in blocks: a block must not be handed out twice, not to two threads,
    not to a forked worker that inherited its parent's unused part."""
    import os
    import threading

    from participants.models import mint_credit_id

    mint_credit_id()  # the parent now holds an unused part of a block
    minted = [mint_credit_id() for _ in range(3000)]  # several blocks
    per_thread = [[] for _ in range(4)]
    threads = [threading.Thread(target=lambda out: out.extend(mint_credit_id()
                                                               for _ in range(2000)),
                                args=(out,)) for out in per_thread]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the forked worker mints and tells its parent what it got
        os.close(read_end)
        os.write(write_end, " ".join(mint_credit_id() for _ in range(300)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        from_child = pipe.read().split()
    os.waitpid(child, 0)
    after_fork = [mint_credit_id() for _ in range(300)]
    everything = minted + sum(per_thread, []) + from_child + after_fork
    assert len(from_child) == 300
    assert len(set(everything)) == len(everything) == 3000 + 8000 + 600
    assert all(re.fullmatch(r"ccid:pars:[A-Za-z0-9_-]{16}", c) for c in everything)


# --- Database checks ------------------------------------------------------------------


def test_database_refuses_birth_month_13(activity_a):
    refused_by_database(**completion_values(activity_a, birth_month=13))


def test_database_refuses_birth_day_32(activity_a):
    refused_by_database(**completion_values(activity_a, birth_day=32))


def test_database_refuses_record_without_learner_permission(activity_a):
    refused_by_database(**completion_values(activity_a, learner_permission=False))


def test_database_refuses_zero_points(activity_a):
    refused_by_database(**completion_values(activity_a, moc_points=Decimal("0")))


# --- One record's checks, with the message users read ----------------------------------


def test_valid_completion_passes_full_clean(activity_a):
    Completion(**completion_values(activity_a)).full_clean()


def test_letters_in_abim_id_name_the_field(activity_a):
    errors = field_errors(Completion(**completion_values(activity_a, learner_id="12A456")))
    assert errors["learner_id"] == ["ABIM ID must be 6 digits."]


def test_five_digit_abim_id_is_refused(activity_a):
    errors = field_errors(Completion(**completion_values(activity_a, learner_id="12345")))
    assert errors["learner_id"] == ["ABIM ID must be 6 digits."]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("0.3", "MOC points must be a multiple of 0.25 (for example 0.25, 1.5, 10)."),
        ("0", "MOC points must be more than 0."),
        ("12", "This activity is registered for 10 MOC points; 12 is more than that."),
    ],
)
def test_bad_points_name_the_field(activity_a, points, message):
    errors = field_errors(Completion(**completion_values(activity_a, moc_points=Decimal(points))))
    assert errors["moc_points"] == [message]


def test_quarter_points_up_to_the_maximum_are_fine(activity_a):
    Completion(**completion_values(activity_a, moc_points=Decimal("0.25"))).full_clean()
    Completion(**completion_values(activity_a, moc_points=Decimal("10"))).full_clean()


def test_credit_type_not_offered_names_the_field(activity_a):
    errors = field_errors(Completion(**completion_values(activity_a, credit="PA")))
    assert errors["credit_type"] == [
        f"Activity {activity_a.pars_id} is not registered for the credit type PA "
        "(registered: MK, PS)."
    ]


def test_activity_not_registered_is_refused(provider_a, editor_a):
    activity = make_activity(provider_a, editor_a, title="Unregistered", points=None)
    errors = field_errors(Completion(**completion_values(activity)))
    assert errors["activity"] == [f"Activity {activity.pars_id} is not registered for ABIM MOC."]


def test_completion_before_activity_start_names_the_field(activity_a):
    values = completion_values(activity_a, completion_date=dt.date(2015, 9, 30))
    errors = field_errors(Completion(**values))
    assert errors["completion_date"] == [
        "Completion date 09/30/2015 is before the activity started on 10/01/2015."
    ]


def test_completion_in_the_future_names_the_field(activity_a):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    errors = field_errors(Completion(**completion_values(activity_a, completion_date=tomorrow)))
    assert errors["completion_date"] == [f"Completion date {tomorrow:%m/%d/%Y} is in the future."]


def test_february_30_is_not_a_birthday(activity_a):
    values = completion_values(activity_a, birth_month=2, birth_day=30)
    errors = field_errors(Completion(**values))
    assert errors["birth_day"] == ["Birth day must be a number from 1 to 29 for that month."]


def test_missing_learner_permission_names_the_field(activity_a):
    errors = field_errors(Completion(**completion_values(activity_a, learner_permission=False)))
    assert errors["learner_permission"] == [
        "The learner's permission to share the data with the board is required."
    ]


# --- Providers, activities, registrations ----------------------------------------------


def test_provider_id_with_six_digits_is_refused(db):
    errors = field_errors(Provider(accme_id="123456", name="Short ID"))
    assert errors["accme_id"] == ["ACCME provider ID must be 7 digits (for example 0001234)."]


def test_provider_id_keeps_leading_zeros(db):
    provider = Provider(accme_id="0001234", name="Zeros")
    provider.full_clean()
    provider.save()
    provider.refresh_from_db()
    assert provider.accme_id == "0001234"


def test_activity_id_must_have_nine_digits():
    validate_activity_id("100000001")
    with pytest.raises(ValidationError) as caught:
        validate_activity_id("10000001")
    assert caught.value.messages == ["PARS activity ID must be 9 digits."]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("0.3", "MOC points must be a multiple of 0.25 (for example 0.25, 1.5, 10)."),
        ("0", "MOC points must be more than 0."),
    ],
)
def test_registration_with_bad_points_names_the_field(activity_a, editor_a, abim, points, message):
    registration = MocRegistration(
        activity=activity_a, board=abim, moc_points=Decimal(points), registered_by=editor_a
    )
    with pytest.raises(ValidationError) as caught:
        registration.full_clean(validate_constraints=False)
    assert caught.value.message_dict["moc_points"] == [message]


def test_new_activities_get_consecutive_nine_digit_pars_ids(provider_a, provider_b, editor_a):
    first = make_activity(provider_a, editor_a, title="First", points=None)
    second = make_activity(provider_b, editor_a, title="Second", points=None)
    assert first.pars_id == "100000001"
    assert second.pars_id == "100000002"


def test_creating_an_activity_records_who_and_how(provider_a, editor_a):
    activity = make_activity(provider_a, editor_a, title="Asthma Update", points=None)
    event = ActivityEvent.objects.get(activity=activity)
    assert event.action == ActivityEvent.Action.CREATED
    assert event.actor == editor_a
    assert event.channel == "form"
    assert event.changes["title"] == "Asthma Update"


def test_activity_ending_before_it_starts_is_refused(provider_a, editor_a):
    with pytest.raises(ValidationError) as caught:
        activity_services.activity_create(
            provider=provider_a,
            actor=editor_a,
            title="Backwards",
            activity_type=Activity.Type.COURSE,
            start_date=dt.date(2016, 3, 1),
            end_date=dt.date(2016, 2, 1),
            reporting_year=2016,
        )
    assert caught.value.message_dict["end_date"] == ["The end date is before the start date."]
    assert not Activity.objects.exists()


def test_registration_needs_all_five_attestations(provider_a, editor_a, credit_types):
    activity = make_activity(provider_a, editor_a, points=None)
    with pytest.raises(ValidationError) as caught:
        activity_services.registration_create(
            activity=activity,
            actor=editor_a,
            moc_points=Decimal("10"),
            credit_types=[credit_types["MK"]],
            attested=Attestation.Statement.values[:4],
        )
    assert caught.value.messages == [
        "All five attestations must be ticked to register the activity."
    ]
    assert not MocRegistration.objects.filter(activity=activity).exists()


def test_registration_records_five_attestations_with_who(activity_a, editor_a):
    registration = activity_a.active_registration()
    assert registration.attestations.count() == 5
    assert set(registration.attestations.values_list("attested_by", flat=True)) == {editor_a.pk}
    assert activity_a.events.filter(action=ActivityEvent.Action.REGISTERED).exists()


def test_activity_cannot_be_registered_twice(activity_a, editor_a, credit_types):
    with pytest.raises(ValidationError) as caught:
        activity_services.registration_create(
            activity=activity_a,
            actor=editor_a,
            moc_points=Decimal("5"),
            credit_types=[credit_types["MK"]],
            attested=Attestation.Statement.values,
        )
    assert caught.value.messages == ["This activity is already registered for ABIM MOC."]


def test_registration_with_records_cannot_be_withdrawn(activity_a, editor_a):
    make_completion(activity_a)
    registration = activity_a.active_registration()
    with pytest.raises(ValidationError) as caught:
        activity_services.registration_withdraw(registration=registration, actor=editor_a)
    assert caught.value.messages == [activity_services.REGISTRATION_HAS_RECORDS]
    registration.refresh_from_db()
    assert registration.status == MocRegistration.Status.ACTIVE


def test_registration_without_records_can_be_withdrawn(activity_a, editor_a):
    registration = activity_services.registration_withdraw(
        registration=activity_a.active_registration(), actor=editor_a
    )
    assert registration.status == MocRegistration.Status.WITHDRAWN
    assert registration.withdrawn_by == editor_a
    assert activity_a.events.filter(action=ActivityEvent.Action.WITHDRAWN).exists()


# --- History is append-only -----------------------------------------------------------


def test_activity_history_cannot_be_rewritten(activity_a):
    event = activity_a.events.first()
    event.changes = {"title": "something else"}
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_completion_history_cannot_be_rewritten(activity_a, editor_a):
    completion = make_completion(activity_a)
    withdraw(completion, editor_a)
    event = CompletionEvent.objects.get(completion=completion)
    assert (event.from_status, event.to_status) == ("submitted", "deleted")
    event.reason = "never happened"
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_deleting_a_record_keeps_it_with_the_reason(activity_a, editor_a):
    completion = make_completion(activity_a)
    withdraw(completion, editor_a)
    completion.refresh_from_db()
    assert completion.status == Completion.Status.DELETED
    assert completion.status_reason == "Entered twice"


def test_deleting_needs_a_reason(activity_a, editor_a):
    completion = make_completion(activity_a)
    with pytest.raises(ValidationError) as caught:
        participant_services.completion_delete(
            completion=completion, actor=editor_a, reason="  ", channel="form"
        )
    assert caught.value.message_dict["reason"] == ["Give a reason for deleting the record."]
