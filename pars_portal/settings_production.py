"""Production profile: DJANGO_SETTINGS_MODULE=pars_portal.settings_production.

Required environment: SECRET_KEY (50+ random characters), ALLOWED_HOSTS, DATABASE_URL.
Run `manage.py collectstatic` once per release.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F403
from .settings import envbool, envint

for _name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"):
    if not os.getenv(_name):
        raise ImproperlyConfigured(f"{_name} must be set in the environment for production.")

DEBUG = False
# The benchmarks (manage.py bench_*) belong on a development machine, not in a running portal.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "pars_portal.benchmarks"]  # noqa: F405
DEMO_DATA_ALLOWED = False
SIMULATED_BOARD = False

SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

WHITENOISE_USE_FINDERS = False
STATIC_ROOT = BASE_DIR / ".staticfiles"  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
