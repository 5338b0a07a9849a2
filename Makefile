# Two entry points: `make lab` (set up, then run the whole lab) and `make test` (set up, then test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser lab test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	# onnx2torch declares torchvision, which the CPU torch build does not need for it
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt onnx2torch
	touch $(STAMP)

lab: setup
	$(BIN)/actmax lab

# Debian's Chromium, for the test that opens the lab report in a real browser. Installed quietly
# when missing and when apt-get can (as root); otherwise that test says how to get it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium (for the report's browser test)"; \
	    log=$$(mktemp); \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	      >"$$log" 2>&1 || { cat "$$log"; rm -f "$$log"; exit 1; }; \
	    rm -f "$$log"; \
	  else \
	    echo "chromium not found: install Debian's chromium to run the browser test"; \
	  fi; }

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
