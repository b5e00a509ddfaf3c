# Two commands matter: `make run` (a demo on the simulated board against the
# bundled central system) and `make test` (the whole suite). Both create .venv
# on first use from the pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

BOARD ?= esp32

.PHONY: run test bench soak fuzz deploy configure firmware release venv clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo 'setting up .venv from requirements-dev.txt (first run only)'
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	@touch $(STAMP)

run: $(STAMP)
	@$(PY) tools/demo.py $(ARGS)

# Four test processes: most tests wait on a charger or a central system, so
# two cores keep four busy. PYTEST_ARGS="-n 0" runs them one at a time.
test: $(STAMP)
	@$(PYTHON) tools/images.py --before-tests
	@$(PY) -m pytest host_tests -n 4 $(PYTEST_ARGS)

deploy: $(STAMP)
	@test -n "$(PORT)" || { echo 'usage: make deploy BOARD=esp32|rp2040 PORT=/dev/ttyUSB0 [ARGS=--source]'; exit 2; }
	@$(PY) tools/deploy.py --board $(BOARD) --port $(PORT) $(ARGS)

configure: $(STAMP)
	@test -n "$(PORT)" || { echo 'usage: make configure PORT=/dev/ttyUSB0 ARGS="key=value ..."'; exit 2; }
	@$(PY) tools/configure.py $(PORT) $(ARGS)

# A MicroPython image with the firmware frozen in, from ../shared/toolchain
# (tools/images.py; needs no .venv).
firmware:
	@test "$(origin BOARD)" != "file" || { echo 'usage: make firmware BOARD=rp2040|rp2040-emu|twin|esp32'; exit 2; }
	@$(PYTHON) tools/images.py $(BOARD)

# A release bundle for updates over the air (tools/release.py): the board's
# .mpy files, a manifest with their SHA-256, optionally signed (ARGS="--key
# k.pem --cert c.pem"); ARGS="--base v0.3.0" only the modules that differ from
# the base frozen into the image (a delta, for boards without PSRAM).
release: $(STAMP)
	@$(PY) tools/release.py --board $(BOARD) $(ARGS)

bench: $(STAMP)
	@$(PY) tools/bench.py $(ARGS)

fuzz: $(STAMP)
	@$(PY) tools/fuzz.py $(ARGS)

soak: $(STAMP)
	@$(PY) tools/soak.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build
