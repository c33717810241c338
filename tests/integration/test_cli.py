"""The command line: exit codes, --json, passwords from stdin, no tracebacks on bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def test_user_add_reads_the_password_from_stdin_and_reports_json(run_cli: Callable[..., Any]) -> None:
    result = run_cli(
        "user",
        "add",
        "boss",
        "--role",
        "admin",
        "--full-name",
        "B. Oss",
        "--password-stdin",
        "--json",
        input="a-long-password-1\n",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"username": "boss", "role": "admin", "full_name": "B. Oss"}
    listed = json.loads(run_cli("user", "list", "--json").stdout)
    assert [
        {k: row[k] for k in ("username", "full_name", "roles", "active", "locked")} for row in listed
    ] == [{"username": "boss", "full_name": "B. Oss", "roles": ["admin"], "active": True, "locked": False}]


def test_a_second_user_needs_an_authenticated_admin(run_cli: Callable[..., Any]) -> None:
    run_cli(
        "user",
        "add",
        "boss",
        "--role",
        "admin",
        "--full-name",
        "B. Oss",
        "--password-stdin",
        input="a-long-password-1\n",
    )
    refused = run_cli(
        "user",
        "add",
        "ana",
        "--role",
        "analyst",
        "--full-name",
        "Ana",
        "--password-stdin",
        "--as",
        "boss",
        input="wrong-password\n",
    )
    assert refused.exit_code == 2 and "wrong username or password" in refused.stderr
    ok = run_cli(
        "user",
        "add",
        "ana",
        "--role",
        "analyst",
        "--full-name",
        "Ana",
        "--password-stdin",
        "--as",
        "boss",
        input="a-long-password-1\nana-password-99\n",
    )
    assert ok.exit_code == 0, ok.output


def test_a_bad_role_is_one_line_and_exit_code_two(run_cli: Callable[..., Any]) -> None:
    result = run_cli(
        "user", "add", "x", "--role", "chief", "--full-name", "X", "--password-stdin", input="p" * 12
    )
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "analyst, reviewer, qa, admin" in result.stderr
    assert "Traceback" not in result.output


def test_audit_verify_exits_one_and_names_the_altered_event(run_cli: Callable[..., Any]) -> None:
    run_cli(
        "user",
        "add",
        "boss",
        "--role",
        "admin",
        "--full-name",
        "B. Oss",
        "--password-stdin",
        input="a-long-password-1\n",
    )
    intact = run_cli("audit", "verify", "--json")
    assert intact.exit_code == 0 and json.loads(intact.stdout)["intact"] is True
    from secretome.db.core.models import AuditEvent

    victim = AuditEvent.objects.get(object_type="user", object_id="boss")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER core_auditevent_no_update")
        else:
            cursor.execute("DROP TRIGGER core_auditevent_no_update ON core_auditevent")
        cursor.execute("UPDATE core_auditevent SET actor = 'someone-else' WHERE id = %s", [victim.pk])
    broken = run_cli("audit", "verify", "--json")
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["first_break"]["event_id"] == victim.pk


def test_audit_log_filters_by_object_and_actor(run_cli: Callable[..., Any]) -> None:
    run_cli(
        "user",
        "add",
        "boss",
        "--role",
        "admin",
        "--full-name",
        "B. Oss",
        "--password-stdin",
        input="a-long-password-1\n",
    )
    rows = json.loads(run_cli("audit", "log", "--object-type", "user", "--json").stdout)
    assert [r["object_id"] for r in rows] == ["boss"]
    assert json.loads(run_cli("audit", "log", "--actor", "nobody", "--json").stdout) == []
