# The two commands a user needs: `make run` and `make test`. Both install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
# Run as root, tasks run as this unprivileged user (README: Isolation); CHOREO_TASK_USER= turns it off.
TASK_USER ?= choreo-task
RUN_TASKS_AS := $(shell [ "$$(id -u)" = 0 ] && echo $(TASK_USER))

.PHONY: install task-user run test test-sqlite test-postgres check bench clean

$(STAMP): pyproject.toml
	@echo "Installing Choreo's Python packages into $(VENV) (a minute or two the first time)..."
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# As root: the task user, and the right to pass through the folders that lead to the
# server's Python and to the project (nothing else: an ACL entry for that user only).
task-user: install
	@if [ "$$(id -u)" = 0 ]; then \
		id -u $(TASK_USER) >/dev/null 2>&1 || { echo "Creating the user $(TASK_USER) that tasks run as"; \
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $(TASK_USER); }; \
		command -v setfacl >/dev/null || { echo "Installing Debian's acl package (setfacl)"; \
			export DEBIAN_FRONTEND=noninteractive; { apt-get install -y -q acl || \
				{ apt-get update -q && apt-get install -y -q acl; }; } >/dev/null 2>&1 || \
				{ echo "FAILED: apt-get install acl" >&2; exit 1; }; }; \
		for path in "$$(readlink -f $(BIN)/python)" "$(CURDIR)/orchestrator"; do \
			dir="$$(dirname "$$path")"; \
			while [ "$$dir" != "/" ]; do \
				[ -n "$$(find "$$dir" -maxdepth 0 -perm -o=x)" ] || setfacl -m "u:$(TASK_USER):x" "$$dir"; \
				dir="$$(dirname "$$dir")"; \
			done; \
		done; \
	fi

run: install task-user
	CHOREO_TASK_USER=$${CHOREO_TASK_USER-$(RUN_TASKS_AS)} $(BIN)/python manage.py migrate --noinput
	CHOREO_TASK_USER=$${CHOREO_TASK_USER-$(RUN_TASKS_AS)} $(BIN)/python manage.py collectstatic --noinput -v 0
	CHOREO_TASK_USER=$${CHOREO_TASK_USER-$(RUN_TASKS_AS)} $(BIN)/python manage.py flows deploy flows/examples
	CHOREO_TASK_USER=$${CHOREO_TASK_USER-$(RUN_TASKS_AS)} $(BIN)/python manage.py serve

check: install
	$(BIN)/python -m mypy orchestrator flows ui
	$(BIN)/lint-imports

# The bench tests create (and drop) throwaway databases on this server when it answers.
test-sqlite: install task-user
	CHOREO_TEST_POSTGRES_URL=$(PG_URL) CHOREO_TEST_TASK_USER=$(RUN_TASKS_AS) $(BIN)/python -m pytest

# The engine and integration tests again on PostgreSQL when one answers. When none does,
# this pass is skipped, or fails with CHOREO_REQUIRE_POSTGRES=1 (CI sets it).
PG_PROBE := import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()
test-postgres: install
	@if reason=$$($(BIN)/python -c "$(PG_PROBE)" "$(PG_URL)" 2>&1); then \
		echo "PostgreSQL answers at $(PG_URL): running the store, runtime, engine, integration and conformance tests on it"; \
		DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest tests/engine tests/store tests/runtime tests/integration \
			tests/conformance/test_kestra_engine.py --ignore=tests/integration/test_bench.py; \
	elif [ "$${CHOREO_REQUIRE_POSTGRES:-}" = "1" ]; then \
		echo "FAILED: CHOREO_REQUIRE_POSTGRES=1 but no PostgreSQL answers at $(PG_URL): $$(echo "$$reason" | tail -n 2 | tr -s "\n\t" "  ")" >&2; \
		exit 1; \
	else \
		echo "SKIPPED: the PostgreSQL run (no PostgreSQL answers at $(PG_URL); CHOREO_REQUIRE_POSTGRES=1 makes this an error)"; \
	fi

test: check test-sqlite test-postgres

bench: install
	$(BIN)/python manage.py bench

clean:
	rm -rf $(VENV) data
