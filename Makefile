# The two set-up commands of README:
#   make demo   set up .venv and run the whole pipeline on the embedded demo data
#   make test   set up .venv with the test tools and run the tests (what .ci/run calls)
# Python 3.10+. PyTorch: a Linux machine without an NVIDIA driver gets the CPU build from
# PyTorch's CPU wheel index (a plain `pip install torch` there brings the CUDA build and several
# GB of CUDA libraries); a machine with a driver gets the default CUDA build from PyPI; macOS
# and Windows wheels on PyPI are CPU (and MPS) builds already. When that index cannot be reached
# (an offline mirror), torch comes from PyPI as configured. Override with TORCH_INDEX=URL.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?= $(shell if [ "$$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1; \
                 then echo https://download.pytorch.org/whl/cpu; fi)
PIP := $(VENV)/bin/python -m pip --disable-pip-version-check
DEMO_OUT ?= ctc-unet-demo

.PHONY: demo test venv clean-venv

demo: $(VENV)/.installed
	$(VENV)/bin/ctc-unet demo --out $(DEMO_OUT)

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

venv: $(VENV)/.installed

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@if [ -n "$(TORCH_INDEX)" ] && $(VENV)/bin/python -c "import sys, urllib.request; \
	    urllib.request.urlopen(sys.argv[1], timeout=10)" "$(TORCH_INDEX)/" 2>/dev/null; then \
	  echo "PyTorch: $(TORCH) from $(TORCH_INDEX)"; \
	  $(PIP) install --quiet --index-url "$(TORCH_INDEX)" "$(TORCH)"; \
	else \
	  echo "PyTorch: $(TORCH) from PyPI$(if $(TORCH_INDEX), ($(TORCH_INDEX) did not answer))"; \
	  $(PIP) install --quiet "$(TORCH)"; \
	fi
	touch $@

$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -e ".[dev,export]"
	touch $@ $(VENV)/.installed

clean-venv:
	rm -rf $(VENV)
