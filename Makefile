# Two commands on a fresh machine that has only Python and make: `make demo`, `make test`.
SHELL := /bin/bash
export TF_USE_LEGACY_KERAS := 1
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2

# TFX 1.16 installs on Python 3.10 only. A pyenv shim named python3.10 may exist and fail,
# so every candidate is run before it is trusted.
PY310 := $(shell for c in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 \
	$$HOME/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do \
	"$$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && \
	{ "$$c" -c 'import sys; print(sys.executable)'; break; }; done)
UV := $(shell command -v uv 2>/dev/null || echo $$HOME/.local/bin/uv)
VENV := .venv
RUN := $(VENV)/bin/python
ROOT ?= $(CURDIR)/runs/demo
# Two workers: the end-to-end runs of the penguins group share one worker (and one run),
# the other tasks' runs and the unit tests go to the other.
PYTEST_ARGS ?= -n 2 --dist loadgroup --timeout 1500

.PHONY: setup browser demo test test-unit lint bench clean

$(UV):
	@command -v python3 >/dev/null || { echo "python3 is needed to bootstrap uv"; exit 1; }
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet --user --break-system-packages uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@if [ -z "$(PY310)" ]; then \
		echo "Python 3.10 not found; trying 'uv python install 3.10'"; \
		$(UV) python install 3.10 || { echo "Install Python 3.10 (pyenv install 3.10) and rerun."; exit 1; }; \
	fi
	$(UV) sync --frozen --python "$(or $(PY310),3.10)"
	@touch $@

setup: $(VENV)/.synced

demo: setup
	$(VENV)/bin/losskit run penguins --root "$(ROOT)"
	$(VENV)/bin/losskit report "$(ROOT)" -o "$(ROOT)/report.html"

# Headless Chromium for the dashboard test (tests/pipelines/test_report.py), from Debian.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

test: setup browser
	$(RUN) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(RUN) -m pytest -m "not e2e" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(RUN) -m benchmarks.run

clean:
	rm -rf $(VENV) runs .pytest_cache
