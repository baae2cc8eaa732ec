"""Test profile: the real settings, with tasks run immediately and fast password hashing."""

from .settings import *  # noqa: F403

TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        "QUEUES": ["default", "uploads", "board"],
    }
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEMO_DATA_ALLOWED = True
# Every test client loads the middleware anew: WhiteNoise looks a static file up when it is
# asked for instead of indexing every static file of every app each time (what it serves,
# and how, is the same; nothing else passes through it).
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"] == "pars_portal.sqlite3":  # noqa: F405
    # In memory, as Django tests SQLite anyway; said outright so that parallel test workers
    # (pytest-xdist) keep it so: they would name a database file after NAME for an engine
    # they do not know as SQLite's.
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}  # noqa: F405
