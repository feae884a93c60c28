# Two entry points: `make run` (console chat) and `make test` (the whole check).
# Both create .venv on first use; nothing else is installed by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck kb licences unit bench clean browser

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/khuyencong chat

test: check

check: lint typecheck kb licences unit

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench tools
	$(BIN)/ruff format --check bot tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

kb: $(STAMP)
	$(BIN)/khuyencong kb check

# No GPL/AGPL distribution in the run-time dependency closure (LGPL libraries are allowed).
licences: $(STAMP)
	$(BIN)/python tools/licences.py

# The storage tests run on SQLite and on a throw-away PostgreSQL server (started, and removed after, by the script).
unit: $(STAMP) browser
	tools/with_postgres.sh $(BIN)/pytest

# The web page is tested in a real headless Chromium (Debian's package); install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium for the web page test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
