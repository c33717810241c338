"""Django settings for Secretome. Everything site-specific comes from the environment (see ``secretome.config``)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import dj_database_url
import django_stubs_ext

from secretome.config import data_directory, flag, read_audit_key, read_secret_key

# Lets generic classes such as ModelAdmin[AuditEvent] be subscripted at run time, as the type stubs have them.
django_stubs_ext.monkeypatch()

HOME = data_directory()
SECRET_KEY = read_secret_key(HOME)
# The audit chain's HMAC key, from its own file beside the secret key (never in the database).
AUDIT_HMAC_KEY = read_audit_key(HOME)
DEBUG = flag("SECRETOME_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("SECRETOME_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "secretome.db.core",
    "secretome.db.accounts",
    "secretome.db.genealogy",
    "secretome.db.imports",
    "secretome.db.quality",
    "secretome.db.analyses",
    "secretome.db.trending",
    "secretome.db.recordlock",
    "secretome.db.controls",
    "secretome.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything queries the database with a request's text: PostgreSQL refuses NUL characters.
    "secretome.web.nul.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "secretome.web.accounts.PasswordExpiryMiddleware",
    # Last, as django-axes asks: it locks accounts after repeated failed logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "secretome.web.urls"
WSGI_APPLICATION = "secretome.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "secretome.web.context.roles",
            ],
        },
    }
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(HOME / "secretome.sqlite3"),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers never deadlock half-way through a use case.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions: an idle timeout (every request renews the cookie), no JavaScript access, same-site only.
SESSION_COOKIE_AGE = int(os.environ.get("SECRETOME_SESSION_IDLE_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_SECURE = flag("SECRETOME_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Strict"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

AXES_FAILURE_LIMIT = int(os.environ.get("SECRETOME_SIGNING_LOCKOUT", "5"))
# Lock the pair (username, address), not the username alone: otherwise anyone who can reach the login page can
# lock any account by typing its name with wrong passwords. The cool-off bounds what a guesser can still do.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("SECRETOME_LOCKOUT_COOLOFF_MINUTES", "30")))
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "secretome/locked.html"

#: Days a password stays valid (21 CFR 11.300(b)); 0 turns expiry off.
PASSWORD_MAX_AGE_DAYS = int(os.environ.get("SECRETOME_PASSWORD_MAX_AGE_DAYS", "90"))

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = HOME / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve the package's own static files straight from the installed package: labs are often offline.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING"},
        "axes": {"handlers": ["console"], "level": "ERROR"},
    },
}
