# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash benchmarks/run.sh

lint: $(STAMP)
	$(PY) -m ruff check leanops tests benchmarks docs
	$(PY) -m ruff format --check leanops tests benchmarks docs

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
