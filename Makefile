# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo demo-port test bench drill clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# `make demo PORT=8080 HOST=0.0.0.0`; AIDFLOW_ENV=demo lets an admin move time (管理 → 演示时钟).
PORT ?= 8000
HOST ?= 127.0.0.1
demo: export AIDFLOW_LOG_JSON ?= false
demo: export AIDFLOW_ENV ?= demo
demo: demo-port install
	$(BIN)/aidflow migrate
	$(BIN)/aidflow demo
	@echo "Reviewer UI: http://$(HOST):$(PORT)/ui/ (users above); public notices: http://$(HOST):$(PORT)/ui/public/notices"
	@echo "Log in: POST http://$(HOST):$(PORT)/api/v1/auth/token (username/password above); docs at http://$(HOST):$(PORT)/docs"
	$(BIN)/aidflow serve --host $(HOST) --port $(PORT)

# Before anything else: a busy port is said at once, not after the install and the data load.
demo-port:
	@$(PYTHON) scripts/port_free.py $(HOST) $(PORT)

test: install
	scripts/test.sh

bench: install
	scripts/test.sh --bench

clean:
	rm -rf $(VENV) aidflow.db aidflow.db-wal aidflow.db-shm

# Failover drill: primary + synchronous hot standby, primary killed under load, standby promoted (docs/drill.md).
drill: install
	$(BIN)/python scripts/drill_failover.py
