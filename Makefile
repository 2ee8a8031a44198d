# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (torch pinned to the CPU build via constraints.txt).

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip install -c constraints.txt
DEMO_OUT ?= demo

.PHONY: demo test install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Train the fast preset on the bundled example image, then write samples and a contact sheet.
demo: install
	@start=$$(date +%s); \
	$(BIN)/sinkit train src/sinkit/data/rocket.jpg --out $(DEMO_OUT)/rocket --preset fast --samples 0 && \
	$(BIN)/sinkit sample $(DEMO_OUT)/rocket --num 12 --out $(DEMO_OUT)/samples --seed 0 && \
	$(BIN)/sinkit sample $(DEMO_OUT)/rocket --num 4 --out $(DEMO_OUT)/samples-wide --scale-h 1.5 --seed 1 && \
	echo "demo finished in $$(( $$(date +%s) - start )) s"

## Run the test suite (installs the dev extras first).
test: install-dev
	@$(BIN)/python -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

## Speed figures for the paper preset (minutes on a CPU).
bench: install
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
