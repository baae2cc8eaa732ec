"""Demo data for `make run`: two providers, activities, a synthetic roster and demo users.

Idempotent: running it again changes nothing. Refused where DEMO_DATA_ALLOWED is off
(the production profile), because the demo passwords are printed.
"""

import datetime as dt
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from activities import services
from activities.models import Activity, Board, Channel, Provider, ProviderMembership
from pars_portal.access import REVIEWERS_GROUP
from participants.parsers import RosterRow
from participants.services import roster_load

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
    RosterRow(0, "ABIM", "123456", "Jane", "Smith", 7, 14),
    RosterRow(0, "ABIM", "234567", "Omar", "Haddad", 2, 29),
    RosterRow(0, "ABIM", "345678", "Grace", "Liu", 11, 3),
]
PROVIDERS = [
    ("0001234", "Northwind Medical Society", Provider.AccreditationType.ACCME, "a"),
    ("0005678", "Lakeside Health CME", Provider.AccreditationType.STATE, "b"),
]
ACTIVITIES = [
    # key, title, type, registered points (None: not registered), credit types
    ("1", "Hypertension Update 2026", Activity.Type.COURSE, Decimal("10"), ["MK"]),
    ("2", "Grand Rounds: Internal Medicine", Activity.Type.RSS, Decimal("20"), ["MK", "PS"]),
    ("3", "Diabetes Care Online Module", Activity.Type.INTERNET_ENDURING, None, []),
]


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
                0, "ABIM", learner_id, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), month, day
            )
        )
    return rows


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
                for user, role in ((editor, "editor"), (viewer, "viewer")):
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
                            title=title if suffix == "a" else f"{title} (Lakeside)",
                            activity_type=activity_type,
                            start_date=dt.date(2026, 1, 15),
                            end_date=dt.date(2026, 12, 31),
                            reporting_year=2026,
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
        result = roster_load(rows=synthetic_roster())
        self.stdout.write(
            f"Demo data ready: {Provider.objects.count()} providers, "
            f"{Activity.objects.count()} activities, roster of {result['rows']} diplomates "
            f"({result['created']} new)."
        )
        self.stdout.write(
            f"\nDemo logins (password for all: {DEMO_PASSWORD})\n"
            "  editor-a / viewer-a   staff of Northwind Medical Society (0001234)\n"
            "  editor-b / viewer-b   staff of Lakeside Health CME (0005678)\n"
            "  reviewer              ACCME reviewer (portal + /admin/)\n"
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
