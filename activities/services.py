"""Writes to activities and registrations. Each records an ActivityEvent (who, when, channel,
what changed)."""

from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from .models import (
    Activity,
    ActivityEvent,
    Attestation,
    Board,
    Channel,
    CreditType,
    MocRegistration,
    PortalEvent,
)
from .validators import validate_moc_points

FIRST_PARS_ID = 100_000_001
REGISTRATION_HAS_RECORDS = (
    "This registration cannot be withdrawn: participant records exist for the activity."
)
ALREADY_REGISTERED = "This activity is already registered for {board} MOC."
ATTESTATIONS_MISSING = "All five attestations must be ticked to register the activity."

_EDITABLE_FIELDS = [
    "provider_activity_id",
    "title",
    "activity_type",
    "start_date",
    "end_date",
    "reporting_year",
    "cme_credits",
    "legacy_module_code",
]


def _next_pars_id() -> str:
    current = Activity.objects.aggregate(m=Max("pars_id"))["m"]
    return str(max(FIRST_PARS_ID, int(current) + 1 if current else FIRST_PARS_ID))


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def activity_create(*, provider, actor, channel: str = Channel.FORM, **fields) -> Activity:
    """Create an activity and assign its 9-digit PARS activity ID."""
    activity = Activity(provider=provider, **fields)
    activity.full_clean(exclude=["pars_id"])
    for _attempt in range(5):
        try:
            with transaction.atomic():
                activity.pars_id = _next_pars_id()
                activity.save()
                ActivityEvent.objects.create(
                    activity=activity,
                    actor=actor,
                    channel=channel,
                    action=ActivityEvent.Action.CREATED,
                    changes={f: _jsonable(getattr(activity, f)) for f in _EDITABLE_FIELDS},
                )
            return activity
        except IntegrityError:
            # Another request took the same PARS ID at the same moment: take the next one.
            activity.pk = None
            continue
    raise IntegrityError("Could not assign a PARS activity ID; please retry.")


def activity_update(*, activity: Activity, actor, channel: str = Channel.FORM, **fields):
    before = {f: _jsonable(getattr(activity, f)) for f in _EDITABLE_FIELDS}
    for name, value in fields.items():
        if name not in _EDITABLE_FIELDS:
            raise ValueError(f"{name} cannot be changed")
        setattr(activity, name, value)
    activity.full_clean()
    after = {f: _jsonable(getattr(activity, f)) for f in _EDITABLE_FIELDS}
    changes = {f: [before[f], after[f]] for f in _EDITABLE_FIELDS if before[f] != after[f]}
    with transaction.atomic():
        activity.save()
        if changes:
            ActivityEvent.objects.create(
                activity=activity,
                actor=actor,
                channel=channel,
                action=ActivityEvent.Action.UPDATED,
                changes=changes,
            )
    return activity


def registration_create(
    *,
    activity: Activity,
    actor,
    moc_points: Decimal,
    credit_types: Iterable[CreditType],
    attested: Iterable[str],
    board: Board | None = None,
    channel: str = Channel.FORM,
) -> MocRegistration:
    """Register an activity for a board's MOC program with all five attestations."""
    board = board or Board.objects.get(code="ABIM")
    credit_types = list(credit_types)
    if set(attested) != set(Attestation.Statement.values):
        raise ValidationError(ATTESTATIONS_MISSING)
    if not credit_types:
        raise ValidationError({"credit_types": "Choose at least one credit type."})
    if any(ct.board_id != board.pk for ct in credit_types):
        raise ValidationError({"credit_types": f"Credit types must belong to {board.code}."})
    registration = MocRegistration(
        activity=activity, board=board, moc_points=moc_points, registered_by=actor
    )
    registration.full_clean(validate_constraints=False)
    with transaction.atomic():
        if MocRegistration.objects.filter(
            activity=activity, board=board, status=MocRegistration.Status.ACTIVE
        ).exists():
            raise ValidationError(ALREADY_REGISTERED.format(board=board.code))
        try:
            with transaction.atomic():
                registration.save()
        except IntegrityError:  # a double click: the other request registered it first
            raise ValidationError(ALREADY_REGISTERED.format(board=board.code)) from None
        registration.credit_types.set(credit_types)
        Attestation.objects.bulk_create(
            Attestation(registration=registration, statement=s, attested_by=actor)
            for s in Attestation.Statement.values
        )
        ActivityEvent.objects.create(
            activity=activity,
            registration=registration,
            actor=actor,
            channel=channel,
            action=ActivityEvent.Action.REGISTERED,
            changes={
                "board": board.code,
                "moc_points": _jsonable(registration.moc_points),
                "credit_types": sorted(ct.code for ct in credit_types),
                "attestations": sorted(Attestation.Statement.values),
            },
        )
    return registration


def _points_text(value) -> str:
    return format(Decimal(value).normalize(), "f")


def registration_update(
    *,
    registration: MocRegistration,
    actor,
    moc_points: Decimal,
    credit_types: Iterable[CreditType],
    channel: str = Channel.FORM,
) -> MocRegistration:
    """Change the points or credit types a registration offers. What is already reported
    must still fit: points at least the most any record carries, and no credit type taken
    away while a record uses it. Every problem is reported at once."""
    credit_types = list(credit_types)
    errors = {}
    try:
        validate_moc_points(moc_points)
    except ValidationError as error:
        errors["moc_points"] = error.messages
    if not credit_types:
        errors["credit_types"] = ["Choose at least one credit type."]
    elif any(ct.board_id != registration.board_id for ct in credit_types):
        errors["credit_types"] = [f"Credit types must belong to {registration.board.code}."]
    with transaction.atomic():
        registration = MocRegistration.objects.select_for_update().get(pk=registration.pk)
        reported = registration.activity.completions.filter(
            is_sandbox=False, board=registration.board
        ).exclude(status="deleted")
        most = reported.aggregate(most=Max("moc_points"))["most"]
        if "moc_points" not in errors and most is not None and Decimal(moc_points) < most:
            errors["moc_points"] = [
                f"Records are reported with up to {most.normalize():f} MOC points: the "
                f"activity must offer at least that many."
            ]
        in_use = set(reported.values_list("credit_type__code", flat=True).distinct())
        removed = sorted(in_use - {ct.code for ct in credit_types})
        if removed and "credit_types" not in errors:
            errors["credit_types"] = [
                f"{', '.join(removed)} cannot be taken away: records are reported with "
                f"{'it' if len(removed) == 1 else 'them'}."
            ]
        if errors:
            raise ValidationError(errors)
        before = {
            "moc_points": _points_text(registration.moc_points),
            "credit_types": sorted(registration.credit_types.values_list("code", flat=True)),
        }
        registration.moc_points = moc_points
        registration.save(update_fields=["moc_points"])
        registration.credit_types.set(credit_types)
        after = {
            "moc_points": _points_text(registration.moc_points),
            "credit_types": sorted(ct.code for ct in credit_types),
        }
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if changes:
            ActivityEvent.objects.create(
                activity=registration.activity,
                registration=registration,
                actor=actor,
                channel=channel,
                action=ActivityEvent.Action.UPDATED,
                changes=changes,
            )
    return registration


def registration_withdraw(*, registration: MocRegistration, actor, channel: str = Channel.FORM):
    with transaction.atomic():
        registration = MocRegistration.objects.select_for_update().get(pk=registration.pk)
        real = registration.activity.completions.filter(is_sandbox=False)
        if real.filter(board=registration.board).exists():
            raise ValidationError(REGISTRATION_HAS_RECORDS)
        registration.status = MocRegistration.Status.WITHDRAWN
        registration.withdrawn_by = actor
        registration.withdrawn_at = timezone.now()
        registration.save(update_fields=["status", "withdrawn_by", "withdrawn_at"])
        ActivityEvent.objects.create(
            activity=registration.activity,
            registration=registration,
            actor=actor,
            channel=channel,
            action=ActivityEvent.Action.WITHDRAWN,
        )
    return registration


def portal_event_record(
    *, action: str, text: str, actor=None, channel: str = Channel.SYSTEM, obj=None,
    detail: dict | None = None,
) -> PortalEvent:  # fmt: skip
    """One entry of the portal's own history (who, when, channel, what)."""
    return PortalEvent.objects.create(
        action=action,
        text=text[:300],
        actor=actor,
        channel=channel,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail={key: _jsonable(value) for key, value in (detail or {}).items()},
    )
