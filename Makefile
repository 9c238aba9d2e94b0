# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench drill clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

demo: export AIDFLOW_LOG_JSON ?= false
demo: install
	$(BIN)/aidflow migrate
	$(BIN)/aidflow demo
	@echo "Reviewer UI: http://127.0.0.1:8000/ui/ (users above); public notices: http://127.0.0.1:8000/ui/public/notices"
	@echo "Log in: POST http://127.0.0.1:8000/api/v1/auth/token (username/password above); docs at http://127.0.0.1:8000/docs"
	$(BIN)/aidflow serve --host 127.0.0.1 --port 8000

test: install
	scripts/test.sh

bench: install
	scripts/test.sh --bench

clean:
	rm -rf $(VENV) aidflow.db aidflow.db-wal aidflow.db-shm

# Failover drill: primary + synchronous hot standby, primary killed under load, standby promoted (docs/drill.md).
drill: install
	$(BIN)/python scripts/drill_failover.py
