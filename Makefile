# The two commands a user types: `make demo` and `make test`. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test setup system clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# Printrun's printcore is a peer host used by tests and benchmarks; its GUI dependencies do not build here.
	$(PY) -m pip install --quiet --no-deps printrun
	$(PY) -m pip install --quiet platformdirs puremagic
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests need (Chromium, PrusaSlicer, CuraEngine); a no-op once they are there.
system:
	bash scripts/install-system-packages.sh

demo: $(STAMP)
	$(PY) -m controller demo

# Test files run on TEST_WORKERS processes (most tests wait on a simulator or a server, so more than the cores).
TEST_WORKERS ?= 3
test: $(STAMP) system
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
