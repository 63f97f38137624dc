# pagesim: `make demo` and `make test` each set up a fresh machine and then do their job.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
JOBS ?= $(shell nproc)

.PHONY: setup system venv build demo demo-engine test test-cpp test-py fuzz bench determinism clean

setup: build

# System libraries (spdlog, nlohmann-json, Boost.Context, GoogleTest) from Debian.
system:
	@bash scripts/setup-system.sh

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q scikit-build-core pybind11 pytest simpy ruff

venv: system $(VPY)

# Incremental: the CMake build tree stays in build/py. The C++ tests are built with it.
build: venv
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(VPY) -m pip install -q --no-build-isolation \
	  --config-settings=cmake.define.PAGESIM_BUILD_TESTS=ON -e '.[dev]'

# The main job: reproduce the zs_free race on the v3 series and show the v4.8 fix.
demo: build
	$(VPY) scenarios/zs_free_double_isolation.py

demo-engine: build
	$(VPY) scenarios/engine_abba.py

test-cpp: build
	ctest --test-dir build/py --output-on-failure -j $(JOBS)

test-py: build
	$(VPY) -m pytest

test: test-cpp test-py

# The fuzz suite (tests/fuzz) for FUZZ_SECONDS, new random inputs every round; `make test`
# runs it too, derandomized on a small budget. Failing examples are saved in .hypothesis/fuzz
# and replayed first next time; the figures (inputs tried, failures) are printed at the end.
FUZZ_SECONDS ?= 600
fuzz: build
	$(VPY) scripts/fuzz.py $(FUZZ_SECONDS)

bench: build
	$(VPY) benchmarks/engine.py
	$(VPY) benchmarks/compaction.py
	$(VPY) benchmarks/explore.py

# Every library scenario over DETERMINISM_SEEDS seeds (and DETERMINISM_EXPLORE_SEEDS
# random/pct explorations, dfs and dpor) in two processes that must agree: the count of
# runs and explorations compared, and every mismatch; exits 1 on any. The defaults: about
# 230,000 runs and 1,400 explorations, 8 minutes on 2 cores.
DETERMINISM_SEEDS ?= 3000
DETERMINISM_EXPLORE_SEEDS ?= 20
determinism: build
	$(VPY) tests/determinism.py --profile big --seeds $(DETERMINISM_SEEDS) \
	  --explore-seeds $(DETERMINISM_EXPLORE_SEEDS)

clean:
	rm -rf build $(VENV)
