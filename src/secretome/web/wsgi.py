"""WSGI entry point, used by ``secretome serve`` (gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secretome.web.settings")
application = get_wsgi_application()
