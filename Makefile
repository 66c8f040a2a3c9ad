# flowhooks: every target is idempotent. `make run` and `make test` need nothing set up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: setup generate check-generated lint run test test-unit bench migrate

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

generate: setup
	$(PY) scripts/generate.py

# Fails when generated/ is not what `make generate` makes from proto/.
check-generated: generate
	@git diff --exit-code --stat -- generated || \
	  (echo "generated/ is stale: run 'make generate' and commit it" >&2; exit 1)
	@test -z "$$(git status --porcelain -- generated)" || \
	  (git status --porcelain -- generated; echo "generated/ has untracked output" >&2; exit 1)

lint: setup
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/mypy
	bash scripts/buf_lint.sh

migrate: setup
	$(VENV)/bin/flowhooks migrate

run: setup
	$(VENV)/bin/flowhooks run

test: setup
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# The base of the pyramid (SPEC §10): pure code only, no database, server, subprocess or network
# (tests/conftest.py files each test by what it uses). Runs in seconds; most of them go to the
# property-based tests, which PYTEST_ARGS='-m "unit and not fuzz"' leaves out.
# The fast loop: pure tests only, without the property-based fuzzing (`make test` runs that).
test-unit: setup
	$(VENV)/bin/pytest -q -m "unit and not fuzz" $(PYTEST_ARGS)

bench: setup
	sh scripts/bench/ensure_wrk.sh
	$(PY) -m scripts.bench $(BENCH_ARGS)
