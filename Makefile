# Two commands matter: `make run` (a demo on the simulated board against the
# bundled central system) and `make test` (the whole suite). Both create .venv
# on first use from the pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test soak venv clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo 'setting up .venv from requirements-dev.txt (first run only)'
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	@touch $(STAMP)

run: $(STAMP)
	@$(PY) tools/demo.py $(ARGS)

test: $(STAMP)
	@$(PY) -m pytest host_tests $(PYTEST_ARGS)

soak: $(STAMP)
	@$(PY) tools/soak.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build
