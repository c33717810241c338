# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv with python3 -m venv when it is missing and install the package with its test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck contracts pytest browser fuzz fuzz-demo benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq --progress-bar off -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf demo
	SECRETOME_HOME=demo $(BIN)/secretome demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src tests benchmarks

contracts: $(STAMP)
	$(BIN)/lint-imports

# pytest on SQLite always, and again on PostgreSQL when DATABASE_URL is set; one worker per CPU
# (pytest-xdist; each worker has its own test database). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
pytest: $(STAMP)
	env -u DATABASE_URL $(BIN)/pytest -q -n $(PYTEST_WORKERS)
	@if [ -n "$$DATABASE_URL" ]; then echo "== pytest on PostgreSQL"; $(BIN)/pytest -q -n $(PYTEST_WORKERS); fi

test: lint typecheck contracts pytest

browser: $(STAMP)
	$(BIN)/python -m pip install -qq --progress-bar off -e '.[test,browser]'
	SECRETOME_BROWSER_TESTS=1 $(BIN)/pytest -q tests/browser

# A bounded schemathesis pass over the JSON API against a real server with a token (.ci/fuzz; under 3 minutes).
fuzz: $(STAMP)
	$(BIN)/python -m pip install -qq --progress-bar off -e '.[test,fuzz]'
	BIN=$(BIN) bash .ci/fuzz

# The same pass against the demo's records, as its QA user and its analyst (on demand; about 6 minutes).
fuzz-demo: $(STAMP)
	$(BIN)/python -m pip install -qq --progress-bar off -e '.[test,fuzz]'
	FUZZ_DEMO=1 BIN=$(BIN) bash .ci/fuzz

benchmark: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) demo build src/*.egg-info
