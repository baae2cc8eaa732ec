"""The database cache's table (settings.CACHES: throttles and login slow-downs shared by every
process), created with the schema so that no extra step is needed."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("participants", "0009_roster_probe_failures")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
