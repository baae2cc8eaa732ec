"""Every record has a credit ID of the drafts' form (pars-spec §9): records that came without
one, or with one of another form (no release had been made), get a minted `ccid:pars:…`."""

import re
import secrets

from django.db import migrations, models

import participants.models

VALID = re.compile(r"ccid:[^:]+:[^:]+")


def mint_missing(apps, schema_editor):
    Completion = apps.get_model("participants", "Completion")
    pending = []
    rows = Completion.objects.order_by().values_list("pk", "credit_id").iterator(chunk_size=5000)
    for pk, credit_id in rows:
        if credit_id is None or len(credit_id) > 300 or not VALID.fullmatch(credit_id):
            pending.append(Completion(pk=pk, credit_id="ccid:pars:" + secrets.token_urlsafe(12)))
        if len(pending) >= 5000:
            Completion.objects.bulk_update(pending, ["credit_id"])
            pending.clear()
    Completion.objects.bulk_update(pending, ["credit_id"])


class Migration(migrations.Migration):
    dependencies = [("participants", "0007_board_answer_indexes")]

    operations = [
        migrations.RunPython(mint_missing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="completion",
            name="credit_id",
            field=models.CharField(
                blank=True,
                default=participants.models.mint_credit_id,
                help_text="The provider's ID for the record (ccid:<system>:<id>), or one the "
                "portal minted (ccid:pars:…) when none was sent; re-sending it is idempotent.",
                max_length=300,
                verbose_name="credit ID",
            ),
        ),
    ]
