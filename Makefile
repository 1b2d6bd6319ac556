# Small on purpose: every target calls Python; the logic lives in the project.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
# Separate stamps: `make run` / `make serve` install the runtime set only; `make test` after
# them installs the development set on top.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP     := $(VENV)/.installed-dev

.PHONY: setup runtime run serve test lint bench loadtest screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changes.
$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

runtime: $(RUNTIME_STAMP)
setup: $(DEV_STAMP)

# Development server; DEBUG defaults to on here (and only here), and it records usage snapshots
# every RECORD_USAGE_EVERY seconds (60; 0 turns it off) instead of cron.
run: $(RUNTIME_STAMP)
	$(PY) -m cacheadmin.secret_key
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-1} RECORD_USAGE_EVERY=$${RECORD_USAGE_EVERY:-60} $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Production-like: DEBUG off, gunicorn (cacheadmin/gunicorn.conf.py), WhiteNoise static files.
serve: $(RUNTIME_STAMP)
	PORT=$(PORT) $(PY) -m cacheadmin.serve

test: $(DEV_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(PY) -m ruff check .

bench: $(RUNTIME_STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py cache_bench $(BENCH_ARGS)

# The serve command under a Locust mix at 1, 8 and 32 users; report in var/loadtest/.
loadtest: $(DEV_STAMP)
	$(PY) -m loadtest.run $(LOADTEST_ARGS)

# PNGs of every page (desktop and phone) into docs/screenshots/, from demo data; needs Chromium.
screenshots: $(DEV_STAMP)
	BROWSER_TESTS_REQUIRED=1 $(PY) -m pytest tests/browser/screenshots.py -q

clean:
	rm -rf $(VENV) var .pytest_cache
