# pulp2ng: `make run` starts everything on the embedded database; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): setup.cfg setup.py pyproject.toml tests/plugins/setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' -e tests/plugins
	touch $(STAMP)

# The development stack serves HTTPS too (consumer agents and login certificates need it).
run: $(STAMP)
	PULP2NG_SERVER_HTTPS=$${PULP2NG_SERVER_HTTPS:-true} $(BIN)/pulp2ng run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/tasks.py
	$(BIN)/python bench/sync_files.py

clean:
	rm -rf $(VENV) var
