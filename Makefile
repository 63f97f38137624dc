# pagesim: `make demo` and `make test` each set up a fresh machine and then do their job.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
JOBS ?= $(shell nproc)

.PHONY: setup system venv build demo-build demo demo-engine notebook test test-cpp test-py fuzz bench determinism clean \
	sanitize-build test-sanitize test-sanitize-cpp test-sanitize-py test-sanitize-ci

setup: build

# System libraries (spdlog, nlohmann-json, Boost.Context, GoogleTest) from Debian.
system:
	@bash scripts/setup-system.sh

$(VPY):
	@echo "creating $(VENV) and installing the build tools from PyPI..."
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q scikit-build-core pybind11 pytest simpy ruff

venv: system $(VPY)

# Incremental: the CMake build tree stays in build/py. The C++ tests are built with it.
build: venv
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(VPY) -m pip install -q --no-build-isolation \
	  --config-settings=cmake.define.PAGESIM_BUILD_TESTS=ON -e '.[dev]'

# What `make demo` needs and no more: the module, without the C++ tests, Ray or the
# notebook tools (`make test` adds them to the same build tree). Each compile step is
# printed as it runs; the full log is build/demo-build.log.
demo-build: venv
	@mkdir -p build
	@echo "building pagesim (the C++ core and its Python module), $(JOBS) jobs:"
	@set -o pipefail; CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(VPY) -m pip install -v \
	  --no-build-isolation -e . 2>&1 | tee build/demo-build.log \
	  | grep --line-buffered -E '^ *\[[0-9]+/[0-9]+\] ' \
	  || { tail -40 build/demo-build.log; exit 1; }

# The main job: reproduce the zs_free race on the v3 series and show the v4.8 fix.
demo: demo-build
	$(VPY) scenarios/zs_free_double_isolation.py

demo-engine: demo-build
	$(VPY) scenarios/engine_abba.py

# JupyterLab on notebooks/, running the venv's Python: pagesim importable as installed.
# (As root, as in a container, Jupyter wants --allow-root.)
notebook: demo-build
	$(VPY) -m pip install -q jupyterlab ipykernel matplotlib
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

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

# ---- Sanitizers (issue 15): ASan + UBSan in build/asan; build/py is left alone ----
# make test-sanitize: every C++ test and every pytest. make test-sanitize-ci: every C++ test
# and the pytests in SANITIZE_CI_PYTEST (about 25 minutes with the build, on 2 cores).
# The Python runs load the sanitized module: $(SAN_SITE) holds pagesim (links to
# bindings/pagesim and to the sanitized _core) and a sitecustomize that steps past an
# editable install; the plugin scripts/sanitize/pagesim_sanitized.py stops the session
# unless that _core is the one imported.
SAN_DIR := build/asan
SAN_SITE := $(SAN_DIR)/site
# The compiler CMake chose: its runtimes are the ones to preload.
SAN_CXX = $(shell sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' $(SAN_DIR)/CMakeCache.txt)
# The interpreter is not sanitized: the runtimes are preloaded, before anything else.
SAN_PRELOAD = $(shell $(SAN_CXX) -print-file-name=libasan.so):$(shell $(SAN_CXX) -print-file-name=libubsan.so)
# A UBSan report ends the process with a stack (the code is built -fno-sanitize-recover too).
SAN_UBSAN := print_stacktrace=1:halt_on_error=1
# C++ tests: leaks are reported. pagesim's SIGSEGV handler (engine/fiber_stack.cpp) comes
# after ASan's and passes it the faults that are not fiber stack overflows.
SAN_ASAN_CPP := detect_leaks=1:allow_user_segv_handler=1
# Python: detect_leaks=0, because CPython does not free everything at exit by design
# (interned strings, static types, module state), so every run would "leak".
# handle_segv=0: the fault handler before pagesim's is then Python's (the default action,
# or faulthandler's traceback), as tests/test_stack.py checks; ASan's would print its own
# report and exit with status 1. A fault still fails its test.
# PYTHONMALLOC=malloc: Python objects are malloc'd, so ASan sees a use after free of one
# (a reference count pagesim's bindings got wrong) instead of pymalloc reusing the block.
SAN_ASAN_PY := detect_leaks=0:handle_segv=0
SAN_PYENV = LD_PRELOAD=$(SAN_PRELOAD) ASAN_OPTIONS=$(SAN_ASAN_PY) UBSAN_OPTIONS=$(SAN_UBSAN) \
  PYTHONMALLOC=malloc PYTHONPATH=$(CURDIR)/$(SAN_SITE) PAGESIM_SANITIZE=1 \
  PAGESIM_SANITIZE_CORE=$(CURDIR)/$(SAN_DIR)/bindings
# The CI subset leaves out the exhaustive explorations (test_explore, test_verdicts: the
# same engine paths millions of times, slowest under ASan), the notebooks and the
# determinism sweep; it keeps the fuzz suite (its CI profile).
SANITIZE_CI_PYTEST ?= tests/test_arguments.py tests/test_balloon.py tests/test_engine.py \
  tests/test_mm.py tests/test_scenario.py tests/test_stack.py tests/test_workers.py \
  tests/test_zsmalloc.py tests/fuzz scenarios
# Ninja when there is one; a configured tree keeps its generator.
SAN_GEN = $(if $(wildcard $(SAN_DIR)/CMakeCache.txt),,$(if $(shell command -v ninja),-G Ninja))

# RelWithDebInfo: optimised as the normal build, with line numbers in the reports.
# PAGESIM_WERROR=OFF: the warnings are the normal build's business (sanitized code draws
# different, sometimes spurious, ones from GCC).
sanitize-build: venv
	cmake -S . -B $(SAN_DIR) $(SAN_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPAGESIM_SANITIZE=ON -DPAGESIM_BUILD_TESTS=ON -DPAGESIM_WERROR=OFF \
	  -DPython_EXECUTABLE=$(abspath $(VPY)) \
	  -Dpybind11_DIR="$$($(VPY) -c 'import pybind11; print(pybind11.get_cmake_dir())')"
	cmake --build $(SAN_DIR) -j $(JOBS)
	rm -rf $(SAN_SITE) && mkdir -p $(SAN_SITE)/pagesim
	ln -s $(CURDIR)/scripts/sanitize/sitecustomize.py $(CURDIR)/scripts/sanitize/pagesim_sanitized.py $(SAN_SITE)/
	for f in bindings/pagesim/*; do \
	  case "$${f##*/}" in __pycache__|_core*) ;; *) ln -s $(CURDIR)/$$f $(SAN_SITE)/pagesim/ ;; esac; \
	done
	ln -s $(CURDIR)/$(SAN_DIR)/bindings/_core*.so $(SAN_SITE)/pagesim/

test-sanitize-cpp: sanitize-build
	ASAN_OPTIONS=$(SAN_ASAN_CPP) UBSAN_OPTIONS=$(SAN_UBSAN) \
	  ctest --test-dir $(SAN_DIR) --output-on-failure -j $(JOBS)

test-sanitize-py: sanitize-build
	$(SAN_PYENV) $(VPY) -c 'import pagesim._core as c; print("pagesim._core:", c.__file__)'
	$(SAN_PYENV) $(VPY) -m pytest -p pagesim_sanitized

test-sanitize: test-sanitize-cpp test-sanitize-py

test-sanitize-ci: test-sanitize-cpp
	$(SAN_PYENV) $(VPY) -c 'import pagesim._core as c; print("pagesim._core:", c.__file__)'
	$(SAN_PYENV) $(VPY) -m pytest -p pagesim_sanitized $(SANITIZE_CI_PYTEST)

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
