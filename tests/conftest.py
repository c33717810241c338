"""Shared fixtures: users per role, logged-in clients with CSRF enforced, a command-line runner."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

PASSWORD = "correct-horse-battery"

# Property tests judge behaviour, not speed: no per-example deadline on a shared, loaded machine. In CI the
# examples are derived from the test names, so a red run can be reproduced exactly.
_IN_CI = os.environ.get("CI") == "true"
settings.register_profile(
    "secretome",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=_IN_CI,
    **({"database": None} if _IN_CI else {}),
)
settings.load_profile("secretome")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        on_sqlite = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(on_sqlite)
    if os.environ.get("SECRETOME_BROWSER_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="browser tests are opt-in: make browser (SECRETOME_BROWSER_TESTS=1)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _audit_triggers(request: pytest.FixtureRequest) -> Any:
    """Tests that commit to the database get the append-only triggers at the start, even when an earlier test
    dropped them, and lose them at the end so that the test database can be emptied for the next test."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction", False)) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server", "run_cli")
    )
    if not transactional:
        yield
        return
    from django.db import connection

    from secretome.db.core import triggers

    request.getfixturevalue("transactional_db")
    triggers.install(connection)
    yield
    triggers.remove(connection)


@pytest.fixture(autouse=True)
def _audit_checkpoint(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test starts without an audit checkpoint, as its database starts without audit events.

    Tests inside one rolled-back transaction never commit, so no commit hook runs: there the checkpoint is
    written as each event is recorded, standing in for the commit those tests cannot make.
    """
    from secretome.services.audit import checkpoint_path

    checkpoint_path().unlink(missing_ok=True)
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction", False)) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server", "run_cli")
    )
    uses_db = marker is not None or "db" in request.fixturenames
    if uses_db and not transactional:
        from secretome.services import audit

        monkeypatch.setattr(audit, "_checkpoint_on_commit", audit.write_checkpoint)
    yield
    checkpoint_path().unlink(missing_ok=True)


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    """Create a user with a role through the service layer (the first one is the system's admin)."""
    from secretome.services import users
    from secretome.services.audit import SYSTEM_ACTOR

    state: dict[str, Any] = {}

    def make(username: str, role: str, full_name: str | None = None) -> Any:
        if "admin" not in state:
            state["admin"] = users.add_user(
                SYSTEM_ACTOR,
                "test admin",
                username="root-admin",
                full_name="Root Admin",
                role="admin",
                password=PASSWORD,
            )
        if username == "root-admin":
            return state["admin"]
        return users.add_user(
            state["admin"],
            "test fixture",
            username=username,
            full_name=full_name or username.title(),
            role=role,
            password=PASSWORD,
        )

    return make


@pytest.fixture
def analyst(make_user: Callable[..., Any]) -> Any:
    return make_user("ana", "analyst", "Ana Analyst")


@pytest.fixture
def reviewer(make_user: Callable[..., Any]) -> Any:
    return make_user("rey", "reviewer", "Rey Reviewer")


@pytest.fixture
def qa_user(make_user: Callable[..., Any]) -> Any:
    return make_user("quinn", "qa", "Quinn QA")


@pytest.fixture
def admin_user(make_user: Callable[..., Any]) -> Any:
    return make_user("root-admin", "admin")


@pytest.fixture
def client_for(db: Any) -> Callable[[Any], Client]:
    """A logged-in Django test client that enforces CSRF, like a browser."""

    def make(user: Any) -> Client:
        client = Client(enforce_csrf_checks=True)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def run_cli(cli: CliRunner, transactional_db: Any) -> Callable[..., Any]:
    """Run a ``secretome`` command in-process against the test database."""
    from secretome.cli import app

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
        return cli.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return run
