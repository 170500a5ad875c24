"""The test settings with the toolbar's DatabaseStore (chosen at startup only)."""

from tests.settings import *  # noqa: F403

DEBUG_TOOLBAR_CONFIG = {
    **DEBUG_TOOLBAR_CONFIG,  # noqa: F405
    "TOOLBAR_STORE_CLASS": "debug_toolbar.store.DatabaseStore",
}

# A file, not shared-cache memory: concurrent requests then wait for SQLite's
# write lock instead of failing with "database table is locked".
DATABASES = {
    "default": {
        **DATABASES["default"],  # noqa: F405
        "TEST": {"NAME": BASE_DIR / "tests" / "dbstore-test.sqlite3"},  # noqa: F405
        "OPTIONS": {"timeout": 20},
    }
}
