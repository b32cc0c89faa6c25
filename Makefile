# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KERAS_HOME := $(CURDIR)/.keras_home
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test install lint clean constraints

# constraints.txt: the exact versions the README's figures were made with (setup.cfg keeps ranges for
# people who embed the library); `make constraints` rewrites it from a venv whose tests pass.
$(STAMP): setup.py setup.cfg constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

constraints:
	$(BIN)/python scripts/pin_constraints.py

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mer-keras demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup tests

lint: $(STAMP)
	$(BIN)/ruff check mer_keras tests benchmarks experiments scripts

clean:
	rm -rf runs .pytest_cache build *.egg-info
