"""Settings come from the environment: safe defaults locally, a production profile that
refuses to start half-configured and passes `check --deploy`."""

import json
import os
import secrets
import string
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from pars_portal.settings import envbool, envint, envlist, envstr

BASE_DIR = django_settings.BASE_DIR


def run(args, **env):
    """Run Python in the project folder with only `env` (plus PATH/HOME) set. A process each:
    the tests that call it are marked slow."""
    clean = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path):
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return {
        "DJANGO_SETTINGS_MODULE": "pars_portal.settings_production",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(60)),
        "ALLOWED_HOSTS": "pars.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
    }


@pytest.mark.slow
def test_production_profile_passes_check_deploy(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **production_env(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_production_profile_refuses_to_start_without_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run(["manage.py", "check", "--deploy"], **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.slow
def test_production_profile_refuses_to_start_without_database_url(tmp_path):
    env = production_env(tmp_path)
    del env["DATABASE_URL"]
    result = run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "DATABASE_URL must be set" in result.stderr


PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.DEMO_DATA_ALLOWED)"
)


@pytest.mark.slow
def test_debug_is_off_by_default():
    result = run(["-c", PRINT_SETTINGS], DJANGO_SETTINGS_MODULE="pars_portal.settings")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


@pytest.mark.slow
def test_debug_can_be_turned_on_locally():
    result = run(["-c", PRINT_SETTINGS], DJANGO_SETTINGS_MODULE="pars_portal.settings", DEBUG="1")
    assert result.stdout.split()[0] == "True"


@pytest.mark.slow
def test_production_ignores_debug_and_demo_data_switches(tmp_path):
    result = run(
        ["-c", PRINT_SETTINGS],
        **production_env(tmp_path),
        DEBUG="1",
        DEMO_DATA_ALLOWED="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


BENCHMARKS = (
    "import json, django; django.setup(); from django.apps import apps; "
    "from django.core.management import get_commands; "
    "print(json.dumps([apps.is_installed('pars_portal.benchmarks'), "
    "sorted(name for name in get_commands() if name.startswith('bench_'))]))"
)
BENCH_COMMANDS = ["bench_api", "bench_dashboard", "bench_import", "bench_load", "bench_upload"]


@pytest.mark.slow
def test_the_benchmarks_app_is_installed_for_development_and_tests_not_production(tmp_path):
    assert "pars_portal.benchmarks" in django_settings.INSTALLED_APPS  # settings_test
    development = run(["-c", BENCHMARKS], DJANGO_SETTINGS_MODULE="pars_portal.settings")
    assert development.returncode == 0, development.stderr
    assert json.loads(development.stdout) == [True, BENCH_COMMANDS]
    production = run(["-c", BENCHMARKS], **production_env(tmp_path))
    assert production.returncode == 0, production.stderr
    assert json.loads(production.stdout) == [False, []]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
)
def test_envbool_reads_yes_and_no(monkeypatch, value, expected):
    monkeypatch.setenv("PARS_TEST_FLAG", value)
    assert envbool("PARS_TEST_FLAG", default=not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_envbool_unset_or_empty_gives_default(monkeypatch, default):
    monkeypatch.delenv("PARS_TEST_FLAG", raising=False)
    assert envbool("PARS_TEST_FLAG", default) is default
    monkeypatch.setenv("PARS_TEST_FLAG", "")
    assert envbool("PARS_TEST_FLAG", default) is default


def test_envint_reads_a_number_or_gives_default(monkeypatch):
    monkeypatch.setenv("PARS_TEST_NUMBER", "42")
    assert envint("PARS_TEST_NUMBER", 7) == 42
    monkeypatch.setenv("PARS_TEST_NUMBER", "")
    assert envint("PARS_TEST_NUMBER", 7) == 7
    monkeypatch.delenv("PARS_TEST_NUMBER")
    assert envint("PARS_TEST_NUMBER", 7) == 7


def test_envint_refuses_a_word(monkeypatch):
    monkeypatch.setenv("PARS_TEST_NUMBER", "many")
    with pytest.raises(ValueError):
        envint("PARS_TEST_NUMBER", 7)


def test_envlist_and_envstr(monkeypatch):
    monkeypatch.setenv("PARS_TEST_HOSTS", " a.example.org, ,b.example.org ")
    assert envlist("PARS_TEST_HOSTS") == ["a.example.org", "b.example.org"]
    monkeypatch.delenv("PARS_TEST_HOSTS")
    assert envlist("PARS_TEST_HOSTS", "localhost") == ["localhost"]
    assert envstr("PARS_TEST_HOSTS", "fallback") == "fallback"
