# genlens: the two sacred commands.
#   make demo   install, then write the tour (out/tour/index.html)
#   make test   install with dev tools, then run the test suite
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
# pip takes torch from this machine's disk when it is there (no multi-GB download); see README.
TORCH   = "torch>=2.4" "torchvision>=0.19"

.PHONY: demo test install install-dev data chromium bench clean lint

$(VENV)/.base:
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 (apt-get install python3.11 python3.11-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	touch $@

$(VENV)/.installed: $(VENV)/.base pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.dev

data:
	@bash scripts/ensure-data.sh

chromium:
	@bash scripts/ensure-chromium.sh || [ -z "$$CI" ]  # locally the browser tests then skip; in CI they fail

demo: install data
	$(VENV)/bin/genlens tour --out out/tour --results bench/results --screenshots docs/explorer
	@echo "open out/tour/index.html"

test: install-dev data chromium
	$(VENV)/bin/python -m pytest

lint: install-dev
	$(VENV)/bin/ruff check src tests bench

# Peers compared in the same run. torch-lucent pins kornia<=0.4.1 and torch-dreams wants mkl and full
# opencv, so both go in without their pins, with what they really import beside them.
$(VENV)/.peers: $(VENV)/.dev
	$(PIP) install --quiet --no-deps torch-lucent==0.1.8 torch-dreams==4.0.0
	$(PIP) install --quiet "kornia>=0.7" decorator ipython opencv-python-headless tqdm denoising-diffusion-pytorch
	touch $@

bench: install-dev data $(VENV)/.peers
	$(PY) bench/zoo.py
	$(PY) bench/inversion.py --seeds 0 1 2
	$(PY) bench/diffusion.py
	$(PY) bench/gan.py
	$(PY) bench/table.py

clean:
	rm -rf out runs .pytest_cache
