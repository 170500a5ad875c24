"""Demo settings: SQLite, DEBUG on, the toolbar with the signal timeline panel."""

import os
from pathlib import Path

import debug_toolbar.settings

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INTERNAL_IPS = ["127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "demo_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "debug_toolbar",
    "signals_panel",
    "blog",
]

MIDDLEWARE = [
    "debug_toolbar.middleware.DebugToolbarMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

if os.environ.get("DEMO_STRICT_CSP"):
    MIDDLEWARE.insert(0, "demo_site.csp.StrictCSPMiddleware")

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
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

STATIC_URL = "/static/"

DEBUG_TOOLBAR_PANELS = [
    *debug_toolbar.settings.PANELS_DEFAULTS,
    "signals_panel.panel.SignalTimelinePanel",
]
DEBUG_TOOLBAR_CONFIG = {
    # The demo's own tests drive the toolbar: let it show under pytest too.
    "IS_RUNNING_TESTS": False,
}
SIGNALS_PANEL = {
    "MAX_EVENTS": 2000,
    "MAX_EVENTS_PER_SENDER": 100,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Findings are logged here at the end of each request: see the console.
    "loggers": {"signals_panel": {"handlers": ["console"], "level": "INFO"}},
}
