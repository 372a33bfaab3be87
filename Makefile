# The two commands a user needs: `make run` and `make test`. Both install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: install run test test-sqlite test-postgres check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py flows deploy flows/examples
	$(BIN)/python manage.py serve

check: install
	$(BIN)/python -m mypy orchestrator flows ui
	$(BIN)/lint-imports

test-sqlite: install
	$(BIN)/python -m pytest

# The engine and integration tests again on PostgreSQL when one answers.
test-postgres: install
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "PostgreSQL answers: running engine, integration and conformance tests on it"; \
		DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest tests/engine tests/integration/test_engine.py tests/conformance/test_kestra_engine.py; \
	else \
		echo "No PostgreSQL on 127.0.0.1:5432: PostgreSQL run skipped"; \
	fi

test: check test-sqlite test-postgres

bench: install
	$(BIN)/python manage.py bench

clean:
	rm -rf $(VENV) data
