"""The Python API: the same use cases as the web app and the command line, for scripts and notebooks.

>>> import secretome.api as stm
>>> stm.open_site("~/secretome-site")          # doctest: +SKIP
>>> stm.audit.verify().intact                   # doctest: +SKIP
True

``open_site`` loads the settings for a data directory (and ``DATABASE_URL`` when set) once per process;
afterwards the service modules are available as attributes (``stm.audit``, ``stm.users``, ...). The pure
analysis core needs no site: ``from secretome import analysis``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType

_SERVICE_MODULES = ("audit", "users")


def open_site(home: str | os.PathLike[str] | None = None, *, create: bool = False) -> Path:
    """Load Secretome for the data directory ``home`` (default ``$SECRETOME_HOME`` or ``~/.secretome``).

    Parameters
    ----------
    home
        The data directory. It must have been initialised (``secretome init``) unless ``create`` is true.
    create
        Initialise the directory (secret key, database schema, role groups) when needed.

    Returns
    -------
    Path
        The data directory in use.
    """
    from secretome.config import data_directory, ensure_secret_key

    if home is not None:
        os.environ["SECRETOME_HOME"] = str(Path(home).expanduser())
    path = data_directory()
    if create:
        ensure_secret_key(path)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secretome.web.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    if create:
        from django.core.management import call_command

        from secretome.services.audit import SYSTEM_ACTOR
        from secretome.services.users import ensure_roles

        call_command("migrate", interactive=False, verbosity=0)
        ensure_roles(SYSTEM_ACTOR, "Python API: initialise role groups")
    return path


def __getattr__(name: str) -> ModuleType:
    # Service modules load lazily, after open_site has configured Django.
    if name in _SERVICE_MODULES or importlib.util.find_spec(f"secretome.services.{name}") is not None:
        return importlib.import_module(f"secretome.services.{name}")
    raise AttributeError(f"module 'secretome.api' has no attribute {name!r}")
