# Two commands matter: `make run` and `make test`. Everything else is a helper for them
# (`make test-fast` is the quick part of `make test`).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --build-constraint build-constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast install install-test browser lint format bench-load clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.3"

# Stamps so that a second `make run` does not reinstall; they refresh when pyproject changes.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml build-constraints.txt
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Browser tests drive Debian's Chromium. Install it when we can (root + apt); otherwise the
# browser tests skip locally with a message, and fail under CI=true.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "NOTE: /usr/bin/chromium missing; browser tests will be skipped (install Debian's chromium)."; \
	  fi; \
	fi

# Links in emails point where the portal is served (make run HOST=… PORT=…).
run: export PORTAL_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@echo "Starting the background workers and the web server on http://$(HOST):$(PORT)/ (Ctrl-C stops both)"
	@$(PY) manage.py run_workers & worker=$$!; \
	  stop() { kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null; }; \
	  trap 'stop; exit 0' INT TERM; trap stop EXIT; \
	  $(PY) manage.py runserver --noreload $(HOST):$(PORT)

# pytest exits 5 when it collected no test: that is a failure here, said out loud.
# $(call pytest,ARGS) runs pytest with ARGS and then PYTEST_ARGS.
define pytest
	@$(PY) -m pytest $(1) $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc = 5 ]; then echo "make $@: pytest collected no tests - failing."; exit 1; fi; \
	  exit $$rc
endef

# Everything: what CI runs, on SQLite and on PostgreSQL. The fast tier runs on every core
# (pytest-xdist, one test database each); then the slow and browser tests one at a time, as
# they start servers and workers of their own and some of them time what they see. With
# PYTEST_ARGS (e.g. a test file), one run of what they select.
test: install-test browser
ifeq ($(strip $(PYTEST_ARGS)),)
	$(call pytest,-n auto -m "not slow and not e2e")
	$(call pytest,-m "slow or e2e")
else
	$(call pytest,)
endif

# The fast tier while you work: everything but the browser tests and those marked slow (real
# processes or servers, large or generated inputs: crash recovery, load, benchmarks, races…).
test-fast: install-test
	$(call pytest,-n auto -m "not slow and not e2e")

# Style, and the layers: imports only point down (pyproject's [tool.importlinter]).
lint: install-test
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Load test: 90 s of mixed API submissions and page views by 8 clients against gunicorn (2
# workers) on a scratch database: SQLite, or a fresh PostgreSQL database when DATABASE_URL
# points at PostgreSQL. Change it with e.g. BENCH_LOAD_ARGS="--seconds 60 --users 16 --workers 4".
bench-load: install
	$(PY) manage.py bench_load $(BENCH_LOAD_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* .pytest_cache .ruff_cache .staticfiles
