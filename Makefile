# The two commands of the README: `make run` and `make test`. Everything else serves them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PYTEST_ARGS ?=
export VAR_DIR ?= $(CURDIR)/var

.PHONY: run test install check chromium clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

install: $(BIN)/.installed

## make run: set up, migrate, load the demo agency, start web + worker + beat (embedded defaults)
run: install
	mkdir -p "$(VAR_DIR)/celery/queue" "$(VAR_DIR)/celery/processed"
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho --procfile Procfile.dev start

## make test: set up and run the whole test suite (SQLite and no services unless DATABASE_URL / REDIS_URL say otherwise)
test: install chromium
	$(BIN)/pytest $(PYTEST_ARGS)

## make check: lint, formatting and migrations in step with the models
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run

# The browser tests drive Debian's chromium; install it when we may, else they are skipped.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "Debian's chromium is missing (sudo apt-get install chromium chromium-driver): browser tests will be skipped."; \
		fi; \
	fi

clean:
	rm -rf $(VENV) var .pytest_cache test-results
