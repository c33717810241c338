"""Make the audit table append-only in the database itself: UPDATE, DELETE (and TRUNCATE) are refused."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from secretome.db.core import triggers


def install(apps: Any, schema_editor: Any) -> None:
    triggers.install(schema_editor.connection)


def remove(apps: Any, schema_editor: Any) -> None:
    triggers.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
