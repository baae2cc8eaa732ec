"""Four foreign keys lose their own index: each is the first column of a composite index
that serves the same lookups (as `transmitted_in` already did), and every index costs each
record an upload writes. The indexes are dropped by name rather than by AlterField, which
on SQLite would rebuild the records table three times."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {  # index → (table, column)
    "participants_completion_activity_id_0cbae6a6": ("participants_completion", "activity_id"),
    "participants_completion_board_id_5b914bc1": ("participants_completion", "board_id"),
    "participants_completion_provider_id_9f479d7d": ("participants_completion", "provider_id"),
    "participants_uploadpreviewrow_upload_id_993840d9": (
        "participants_uploadpreviewrow",
        "upload_id",
    ),
}


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0006_staff_managers"),
        ("participants", "0019_followup_open_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
                )
                for index, (table, column) in DROPPED.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="completion",
                    name="activity",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="completions",
                        to="activities.activity",
                    ),
                ),
                migrations.AlterField(
                    model_name="completion",
                    name="board",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="activities.board",
                    ),
                ),
                migrations.AlterField(
                    model_name="completion",
                    name="provider",
                    field=models.ForeignKey(
                        db_index=False,
                        help_text="The activity's provider, kept here for the per-provider "
                        "screens.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="completions",
                        to="activities.provider",
                    ),
                ),
                migrations.AlterField(
                    model_name="uploadpreviewrow",
                    name="upload",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="preview_rows_of",
                        to="participants.upload",
                    ),
                ),
            ],
        )
    ]
