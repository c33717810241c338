"""Roles and security settings."""

from __future__ import annotations

import pytest

from secretome.domain.roles import Role, can_read_audit_trail, parse_role


def test_only_qa_and_admin_read_the_audit_trail() -> None:
    assert can_read_audit_trail({Role.QA})
    assert can_read_audit_trail({Role.ADMIN})
    assert not can_read_audit_trail({Role.ANALYST, Role.REVIEWER})


def test_an_unknown_role_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="analyst, reviewer, qa, admin"):
        parse_role("boss")
    assert parse_role(" QA ") is Role.QA


def test_production_settings_hash_with_argon2_first_and_secure_sessions() -> None:
    import importlib

    production = importlib.import_module("secretome.web.settings")
    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert production.TIME_ZONE == "UTC" and production.USE_TZ
    assert production.SESSION_COOKIE_HTTPONLY and production.SESSION_SAVE_EVERY_REQUEST
    assert production.SESSION_COOKIE_AGE == 30 * 60
    assert "django.contrib.auth.middleware.LoginRequiredMiddleware" in production.MIDDLEWARE
    assert "django.middleware.csrf.CsrfViewMiddleware" in production.MIDDLEWARE


def test_sqlite_runs_immediate_transactions_with_wal_and_foreign_keys() -> None:
    import importlib
    import os

    production = importlib.import_module("secretome.web.settings")
    if os.environ.get("DATABASE_URL"):
        pytest.skip("SQLite options apply only without DATABASE_URL")
    options = production.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"] and "foreign_keys=ON" in options["init_command"]
