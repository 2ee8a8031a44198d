# Entry points for a fresh machine: `make demo`, `make app` and `make test`.
# Each creates .venv and installs what it needs (torch pinned to the CPU build via constraints.txt).

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip install -c constraints.txt
DEMO_OUT ?= demo
APP_ARGS ?=

.PHONY: demo app test install install-dev install-app install-browser-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-app: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[app]"
	touch $@ $(VENV)/.installed

# what the browser test needs besides Chromium itself (Debian: apt-get install chromium)
$(VENV)/.installed-browser-test: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[dev,app,browser-test]"
	touch $@ $(VENV)/.installed-app $(VENV)/.installed-dev $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-app: $(VENV)/.installed-app
install-browser-test: $(VENV)/.installed-browser-test

## Train the fast preset on the bundled example image, then write samples and a contact sheet.
demo: install
	@start=$$(date +%s); \
	$(BIN)/sinkit train src/sinkit/data/rocket.jpg --out $(DEMO_OUT)/rocket --preset fast --samples 0 && \
	$(BIN)/sinkit sample $(DEMO_OUT)/rocket --num 12 --out $(DEMO_OUT)/samples --seed 0 && \
	$(BIN)/sinkit sample $(DEMO_OUT)/rocket --num 4 --out $(DEMO_OUT)/samples-wide --scale-h 1.5 --seed 1 && \
	echo "demo finished in $$(( $$(date +%s) - start )) s"

## Serve the browser app on http://127.0.0.1:7860 (runs in ~/sinkit-runs; e.g. APP_ARGS="--port 8000 --runs runs").
app: install-app
	$(BIN)/sinkit app $(APP_ARGS)

## Run the test suite (installs the dev extras first; the browser test runs when
## `make install-browser-test` and Chromium are installed, and says why it skipped otherwise).
test: install-dev
	@$(BIN)/python -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

## Speed figures for the paper preset (minutes on a CPU).
bench: install
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
