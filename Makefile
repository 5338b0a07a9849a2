# Two entry points: `make lab` (set up, then run the whole lab) and `make test` (set up, then test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser fashion-mnist lab lab-fashion test lint bench clean

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

lab-fashion: setup fashion-mnist
	$(BIN)/actmax lab --dataset fashion-mnist

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

# Debian's Fashion-MNIST (the four original idx files under /usr/share/datasets/fashion-mnist),
# for `actmax lab --dataset fashion-mnist` and its tests. Installed quietly when missing and when
# apt-get can (as root); otherwise one line says how to get it. The MNIST lab does not need it.
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
KERAS_FASHION_MNIST := $(HOME)/.keras/datasets/fashion-mnist/train-images-idx3-ubyte.gz
fashion-mnist:
	@[ -f $(FASHION_MNIST) ] || [ -f $(KERAS_FASHION_MNIST) ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's dataset-fashion-mnist (for the Fashion-MNIST lab)"; \
	    log=$$(mktemp); \
	    { apt-get update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; } \
	      >"$$log" 2>&1 || { cat "$$log"; rm -f "$$log"; exit 1; }; \
	    rm -f "$$log"; \
	  else \
	    echo "Fashion-MNIST not found: install Debian's dataset-fashion-mnist (as root) to run" \
	      "the Fashion-MNIST lab and its tests"; \
	  fi; }

test: setup browser fashion-mnist
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
