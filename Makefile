# Small on purpose: every target calls Python; the logic lives in the project.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
STAMP  := $(VENV)/.installed-requirements

.PHONY: setup run test lint bench screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt changes.
$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

# Development server; DEBUG defaults to on here (and only here).
run: setup
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .

bench: setup
	DEBUG=$${DEBUG:-1} $(PY) manage.py cache_bench $(BENCH_ARGS)

# PNGs of every page (desktop and phone) into docs/screenshots/, from demo data; needs Chromium.
screenshots: setup
	BROWSER_TESTS_REQUIRED=1 $(PY) -m pytest tests/browser/screenshots.py -q

clean:
	rm -rf $(VENV) var .pytest_cache
