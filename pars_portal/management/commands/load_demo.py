"""Demo data for `make run`: two providers, activities, a synthetic roster and demo users.

Idempotent: running it again changes nothing. Refused where DEMO_DATA_ALLOWED is off
(the production profile), because the demo passwords are printed.
"""

import datetime as dt
import io
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from activities import services
from activities.models import Activity, Board, Channel, Provider, ProviderMembership
from pars_portal.lib.access import REVIEWERS_GROUP
from participants.exports import write_delimited
from participants.intake import intake_submit
from participants.models import Completion, Upload
from participants.parsers import TEMPLATE_COLUMNS, TEMPLATE_HEADERS, RosterRow
from participants.rows import ParticipantRow, Result
from participants.services.records import completion_delete
from participants.services.roster import roster_load
from participants.services.uploads import (
    upload_check,
    upload_commit,
    upload_confirm,
    upload_create,
)
from participants.transmission import ingest_answers, simulated_board_answers, transmit

DEMO_PASSWORD = "pars-demo-2015"
ROSTER_SIZE = 10_000
FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Priya",
    "Wei",
    "Carlos",
    "Aisha",
    "Olga",
    "Kenji",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Patel",
    "Nguyen",
    "Chen",
    "Kim",
    "Okafor",
    "Kowalski",
]
# Named diplomates the README's walk-through uses.
KNOWN_DIPLOMATES = [
    RosterRow(
        row_number=0,
        board_code="ABIM",
        learner_id="123456",
        first_name="Jane",
        last_name="Smith",
        birth_month=7,
        birth_day=14,
    ),
    RosterRow(
        row_number=0,
        board_code="ABIM",
        learner_id="234567",
        first_name="Omar",
        last_name="Haddad",
        birth_month=2,
        birth_day=29,
    ),
    RosterRow(
        row_number=0,
        board_code="ABIM",
        learner_id="345678",
        first_name="Grace",
        last_name="Liu",
        birth_month=11,
        birth_day=3,
    ),
]
PROVIDERS = [
    ("0001234", "Northwind Medical Society", Provider.AccreditationType.ACCME, "a"),
    ("0005678", "Lakeside Health CME", Provider.AccreditationType.STATE, "b"),
]
ACTIVITIES = [
    # key, title, type, registered points (None: not registered), credit types
    ("1", "Hypertension Update {year}", Activity.Type.COURSE, Decimal("10"), ["MK"]),
    ("2", "Grand Rounds: Internal Medicine", Activity.Type.RSS, Decimal("20"), ["MK", "PS"]),
    ("3", "Diabetes Care Online Module", Activity.Type.INTERNET_ENDURING, None, []),
]


def demo_year() -> int:
    """The demo's activities and records are of the current reporting year, so the
    dashboards open on figures whenever the demo is loaded."""
    return timezone.localdate().year


def synthetic_roster() -> list[RosterRow]:
    rng = random.Random(2015)  # deterministic: the same roster on every machine
    rows = list(KNOWN_DIPLOMATES)
    taken = {row.learner_id for row in rows}
    number = 400000
    while len(rows) < ROSTER_SIZE:
        number += 1
        learner_id = f"{number:06d}"
        if learner_id in taken:
            continue
        month = rng.randint(1, 12)
        day = rng.randint(1, 28)
        rows.append(
            RosterRow(
                row_number=0,
                board_code="ABIM",
                learner_id=learner_id,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                birth_month=month,
                birth_day=day,
            )
        )
    return rows


def demo_upload(provider, editor, rows) -> int:
    """`rows` as a tab-delimited template file, uploaded, checked, confirmed and saved by
    the same services the upload pages and the worker use (run here in turn; the queued
    tasks then find the upload done and change nothing). Returns the records created."""

    def cells(row):
        values = {
            **{name: getattr(row, name, "") for name, _, _ in TEMPLATE_COLUMNS},
            "action": "add", "board_code": "ABIM", "learner_permission": "Y", "credit_id": "",
            "completion_date": row.completion_date.strftime("%m/%d/%Y"), "cme_credits": "",
        }  # fmt: skip
        return [values[name] for name, _, _ in TEMPLATE_COLUMNS]

    buffer = io.BytesIO()
    write_delimited(buffer, TEMPLATE_HEADERS, [cells(r) for r in rows], delimiter="\t")
    name = f"learners-{provider.accme_id}-{timezone.localdate():%Y%m%d}.txt"
    upload = upload_create(
        provider=provider, user=editor, uploaded_file=SimpleUploadedFile(name, buffer.getvalue())
    )
    upload_check(upload_id=upload.pk)
    upload = Upload.objects.get(pk=upload.pk)
    if upload.status == Upload.Status.PREVIEW:
        upload_confirm(upload=upload, user=editor)
    upload = upload_commit(upload_id=upload.pk)
    return upload.completions.count()


def demo_records(roster: list[RosterRow]) -> int:
    """Participant records for the dashboards to show, written the way real ones are: web
    form and API submissions through the intake pipeline, a few deletions, a transmission
    answered by the SIMULATED board (demo only, not ABIM), then newer records still waiting
    to be sent. Only for a demo provider that has no records yet."""

    rng = random.Random(2026)
    learners = roster[len(KNOWN_DIPLOMATES) :]  # the known three stay free to enter by hand
    first_day, last_day = dt.date(demo_year(), 1, 1), timezone.localdate()
    if not learners or last_day < first_day:
        return 0
    created = 0
    later = []
    for accme_id, _name, _kind, suffix in PROVIDERS:
        provider = Provider.objects.get(accme_id=accme_id)
        if Completion.objects.filter(provider=provider).exists():
            continue
        editor = User.objects.get(username=f"editor-{suffix}")
        registrations = [
            a.registrations.prefetch_related("credit_types").get()
            for a in provider.activities.filter(registrations__status="active").order_by("pk")
        ]
        rows = []
        for number in range(1, (160 if suffix == "a" else 90) + 1):
            learner = rng.choice(learners)
            registration = rng.choice(registrations)
            month, day = learner.birth_month, learner.birth_day
            first_name = learner.first_name
            roll = rng.random()
            if roll < 0.06:  # a typo in the birth date: the roster check rejects it
                day = day % 28 + 1
            elif roll < 0.10:  # another first name: a warning here, the board rejects it
                first_name = rng.choice([n for n in FIRST_NAMES if n != learner.first_name])
            rows.append(ParticipantRow(
                row_number=number, activity_ref=registration.activity.pars_id,
                learner_id=learner.learner_id, first_name=first_name,
                last_name=learner.last_name, birth_month=month, birth_day=day,
                completion_date=first_day
                + dt.timedelta(days=rng.randrange((last_day - first_day).days + 1)),
                credit_type=rng.choice(list(registration.credit_types.all())).code,
                moc_points=registration.moc_points, learner_permission=True,
            ))  # fmt: skip
        cut = len(rows) * 4 // 5
        for channel, part in (
            (Channel.FORM, rows[: cut // 3]),
            (Channel.API, rows[cut // 3 : cut * 2 // 3]),
        ):
            result = intake_submit(provider=provider, rows=part, actor=editor, channel=channel)
            created += result.count(Result.CREATED)
        created += demo_upload(provider, editor, rows[cut * 2 // 3 : cut])
        for completion in Completion.objects.filter(provider=provider, status="accepted")[:3]:
            completion_delete(completion=completion, actor=editor, channel=Channel.FORM,
                              reason="Entered twice by mistake")  # fmt: skip
        later.append((provider, editor, rows[cut:]))
    if not later:
        return created
    for batch in transmit():
        ingest_answers(simulated_board_answers(batch), board_code=batch.board.code)
    for provider, editor, rows in later:  # newer records, not sent yet
        result = intake_submit(provider=provider, rows=rows, actor=editor, channel=Channel.API)
        created += result.count(Result.CREATED)
    return created


class Command(BaseCommand):
    help = "Load demo providers, activities, roster and users (idempotent)."

    def handle(self, *args, **options):
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError("Demo data is disabled in this configuration (production).")
        with transaction.atomic():
            reviewer = self._user("reviewer", "Rita", "Reviewer", staff=True)
            reviewer.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
            board = Board.objects.get(code="ABIM")
            credit_types = {ct.code: ct for ct in board.credit_types.all()}
            for accme_id, name, kind, suffix in PROVIDERS:
                provider, _ = Provider.objects.get_or_create(
                    accme_id=accme_id, defaults={"name": name, "accreditation_type": kind}
                )
                editor = self._user(f"editor-{suffix}", "Eddie", f"Editor {suffix.upper()}")
                viewer = self._user(f"viewer-{suffix}", "Vera", f"Viewer {suffix.upper()}")
                # A manager (writes and manages the staff: the Staff page) for each provider.
                manager = self._user(f"manager-{suffix}", "Mona", f"Manager {suffix.upper()}")
                for user, role in ((manager, "manager"), (editor, "editor"), (viewer, "viewer")):
                    ProviderMembership.objects.get_or_create(
                        user=user, provider=provider, defaults={"role": role}
                    )
                for key, title, activity_type, points, codes in ACTIVITIES:
                    own_id = f"DEMO-{suffix.upper()}{key}"
                    activity = Activity.objects.filter(
                        provider=provider, provider_activity_id=own_id
                    ).first()
                    if activity is None:
                        activity = services.activity_create(
                            provider=provider,
                            actor=editor,
                            channel=Channel.SYSTEM,
                            provider_activity_id=own_id,
                            title=(title if suffix == "a" else f"{title} (Lakeside)").format(
                                year=demo_year()
                            ),
                            activity_type=activity_type,
                            start_date=dt.date(demo_year(), 1, 1),
                            end_date=dt.date(demo_year(), 12, 31),
                            reporting_year=demo_year(),
                            cme_credits=points or Decimal("2"),
                        )
                        if points:
                            services.registration_create(
                                activity=activity,
                                actor=editor,
                                moc_points=points,
                                credit_types=[credit_types[c] for c in codes],
                                attested=[s for s, _ in services.Attestation.Statement.choices],
                                channel=Channel.SYSTEM,
                            )
        roster = synthetic_roster()
        result = roster_load(rows=roster)
        records = demo_records(roster)
        self.stdout.write(
            f"Demo data ready: {Provider.objects.count()} providers, "
            f"{Activity.objects.count()} activities, roster of {result['rows']} diplomates "
            f"({result['created']} new), {records} new participant records."
        )
        self.stdout.write(
            f"\nDemo logins (password for all: {DEMO_PASSWORD})\n"
            "  manager-a / editor-a / viewer-a   staff of Northwind Medical Society (0001234)\n"
            "  manager-b / editor-b / viewer-b   staff of Lakeside Health CME (0005678)\n"
            "  (managers also manage their provider's staff: Staff in the menu)\n"
            "  reviewer                          ACCME reviewer (portal + /admin/)\n"
            "Roster diplomates to try: 123456 Jane Smith 07/14, 234567 Omar Haddad 02/29.\n"
        )

    def _user(self, username, first, last, *, staff=False) -> User:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "is_staff": staff,
                "email": f"{username}@example.org",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user
