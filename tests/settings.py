"""Test settings: the production settings over a throw-away data directory.

The password hasher is the fast MD5 one so that creating users in fixtures costs microseconds; a unit
test checks that the production settings put Argon2 first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from secretome.config import ensure_secret_key

_home = Path(tempfile.mkdtemp(prefix="secretome-test-"))
ensure_secret_key(_home)
os.environ["SECRETOME_HOME"] = str(_home)

from secretome.web.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = []
