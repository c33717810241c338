"""A process that imports instrument files until it is killed, for the kill -9 tests.

``python -m tests.integration.crash_support setup`` initialises the data directory in ``$SECRETOME_HOME``
(and ``DATABASE_URL`` when set) with an analyst; ``... import`` then imports every sample file, each stored
in the data directory, one after another, until the parent kills it.
"""

from __future__ import annotations

import sys

PASSWORD = "correct-horse-battery"


def _setup() -> None:
    import secretome.api as stm

    stm.open_site(create=True)
    from secretome.services import users
    from secretome.services.audit import SYSTEM_ACTOR

    admin = users.add_user(
        SYSTEM_ACTOR, "crash test", username="root-admin", full_name="Root", role="admin", password=PASSWORD
    )
    users.add_user(admin, "crash test", username="ana", full_name="Ana", role="analyst", password=PASSWORD)


def _import_until_killed() -> None:
    import secretome.api as stm

    stm.open_site()
    from django.contrib.auth.models import User

    from secretome.services import imports
    from secretome.services.errors import ServiceError
    from tests.unit.instruments.samples import every_sample

    imports.DATABASE_LIMIT_BYTES = 0  # every file goes to the data directory, the path a crash can break
    analyst = User.objects.get(username="ana")
    samples = every_sample()
    imports.inspect_file(samples[0].name, samples[0].read_bytes())  # load the readers before "ready"
    print("ready", flush=True)
    for path in samples:
        try:
            imports.import_file(analyst, "crash test", path.name, path.read_bytes())
        except ServiceError:
            continue  # a sample the readers refuse (a truncated file)
        print(path.name, flush=True)


if __name__ == "__main__":
    {"setup": _setup, "import": _import_until_killed}[sys.argv[1]]()
