"""Find stored text that a learner report (XML) or a spreadsheet (XLSX) cannot hold: data
saved before the portal refused such characters at every entry point. Transmission sets
such records aside and exports show the characters as U+FFFD; this lists them to correct."""

from django.core.management.base import BaseCommand, CommandError

from activities.models import Activity, Board, CreditType, Provider
from activities.validators import text_problem
from participants.models import Completion

# The characters as a bracket expression both SQLite (Python's re) and PostgreSQL read. NUL
# and lone surrogates cannot be stored in the first place.
PATTERN = "[" + "".join(map(chr, (*range(1, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF))) + "]"
FIELDS = [
    (Completion, ["first_name", "last_name", "credit_id", "status_reason", "warning"]),
    (Activity, ["title", "provider_activity_id"]),
    (Provider, ["name"]),
    (Board, ["code", "name"]),
    (CreditType, ["code", "label"]),
]


class Command(BaseCommand):
    help = "List stored text that XML learner reports and XLSX exports cannot hold."

    def handle(self, *args, **options):
        found = 0
        for model, fields in FIELDS:
            for field in fields:
                rows = model.objects.filter(**{f"{field}__regex": PATTERN}).values_list("pk", field)
                for pk, value in rows.iterator():
                    found += 1
                    problem = text_problem(value, field.replace("_", " ").capitalize(),
                                           plain=False)  # fmt: skip
                    self.stdout.write(f"{model._meta.verbose_name} {pk}: {problem}")
        if found:
            raise CommandError(
                f"{found} value(s) cannot be written to learner reports or spreadsheets; "
                "records of them are set aside by transmission until corrected."
            )
        self.stdout.write("No stored text that learner reports or spreadsheets cannot hold.")
