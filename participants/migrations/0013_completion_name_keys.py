"""The participant search's name keys (accent-, case- and punctuation-free names), filled
for the records that exist; the index they serve replaces the exact last-name index."""

from django.conf import settings
from django.db import migrations, models

CHUNK = 5000


def fill_keys(apps, schema_editor):
    from participants.models import name_key  # the function, not the model: safe here

    Completion = apps.get_model("participants", "Completion")
    last = 0
    while True:
        rows = list(
            Completion.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "first_name", "last_name")[:CHUNK]
        )
        if not rows:
            return
        Completion.objects.bulk_update(
            [Completion(pk=pk, first_name_key=name_key(first), last_name_key=name_key(family))
             for pk, first, family in rows],
            ["first_name_key", "last_name_key"],
        )  # fmt: skip
        last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0005_portal_history"),
        ("participants", "0012_upload_preview_rows"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="completion",
            name="completion_prov_last_name",
        ),
        migrations.AddField(
            model_name="completion",
            name="first_name_key",
            field=models.CharField(default="", editable=False, max_length=200),
        ),
        migrations.AddField(
            model_name="completion",
            name="last_name_key",
            field=models.CharField(default="", editable=False, max_length=200),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="completion",
            index=models.Index(
                condition=models.Q(("is_sandbox", False)),
                fields=["provider", "last_name_key", "first_name_key"],
                name="completion_name_search",
            ),
        ),
    ]
