"""What the browser tests share: logging in through the real login form, and where screenshots go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import PASSWORD


def log_in(page: Any, base: str, username: str) -> None:
    """Log ``username`` in through the login page and wait for the lot list."""
    page.goto(f"{base}/")
    assert "/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def screenshots() -> Path:
    """The folder screenshots are written to (``build/screenshots``, ignored by git)."""
    path = Path(__file__).resolve().parents[2] / "build" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
