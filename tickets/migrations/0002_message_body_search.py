"""Full-text search over message text on PostgreSQL: a GIN index on its tsvector.

The indexed expression is exactly what ``inbox.selectors`` filters on
(``SearchVector("body", config="simple")``), so the planner uses it. The index is built
CONCURRENTLY (this migration is not atomic) so a large messages table keeps taking writes
while it builds. SQLite has no tsvector: there the search falls back to a substring match and
this migration does nothing.
"""

from django.db import migrations

INDEX = "message_body_fts"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON tickets_message "
        "USING gin (to_tsvector('simple'::regconfig, COALESCE(body, ''::text)))"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
