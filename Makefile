# Fresh Debian/Ubuntu machine, as root or with sudo available:
#   make run    set up, then serve JupyterLab on the incident-investigation notebook (prints the URL)
#   make test   set up, then run every test suite (ruff, mypy --strict, pytest, live recording, browser, nbval on
#               the notebooks, and the native core's cargo fmt/clippy/test once native/ exists) and summarise
#   make demo   the command-line reader on the bundled sample, as `sysdig -r` prints it
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := sysnb/data/storefront_incident.scap.gz

BPF_OBJ := sysnb/record/sysnb.bpf.o

.PHONY: setup run demo test test-under-load lint goldens bench clean bpf notebooks report js labextension native-check fuzz

# pip builds the native core (native/, Rust) with maturin: needs cargo (https://rustup.rs or the distribution's
# cargo/rustc >= 1.88) and crates.io; a source change rebuilds it
NATIVE_SRC := native/Cargo.toml native/Cargo.lock $(shell find native/src -name '*.rs' 2>/dev/null)

$(BIN)/sysnb: pyproject.toml $(NATIVE_SRC)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q sysnb
	@touch $@

# the prebuilt JupyterLab extension (sysnb.data/, committed; a wheel installs it there itself): an editable
# install links it into the venv's labextensions
LABEXT := $(VENV)/share/jupyter/labextensions/sysnb-labextension

setup: $(BIN)/sysnb bpf $(LABEXT)

$(LABEXT): | $(BIN)/sysnb
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR)/sysnb.data/data/share/jupyter/labextensions/sysnb-labextension $@

# The live recorder's CO-RE object, built against this kernel's BTF. Skipped (with a note) where the
# toolchain or BTF is missing: everything except live capture works without it.
bpf:
	@if command -v clang >/dev/null && command -v bpftool >/dev/null && [ -r /sys/kernel/btf/vmlinux ] \
	    && [ -r /usr/include/bpf/bpf_helpers.h ]; then $(MAKE) --no-print-directory $(BPF_OBJ); \
	else echo "note: live capture disabled (needs clang, bpftool, libbpf-dev and /sys/kernel/btf/vmlinux)"; fi

build/vmlinux.h:
	mkdir -p build
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BPF_OBJ): bpf/sysnb.bpf.c bpf/record.h bpf/recorder.h build/vmlinux.h
	clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Ibuild -Ibpf -c bpf/sysnb.bpf.c -o build/sysnb.bpf.o
	llvm-strip -g build/sysnb.bpf.o -o $@ 2>/dev/null || cp build/sysnb.bpf.o $@

# The explorer widget's browser half (js/src) bundled with apache-arrow into sysnb/views/static/ (committed,
# so neither users nor CI need node; rebuild after editing js/src: needs node/npm from the package registry)
js:
	cd js && npm ci --silent && npm run build

# The JupyterLab extension (labextension/, TypeScript) built into sysnb.data/ (committed, so users need no node;
# rebuild after editing labextension/src: needs node/npm and this venv's jupyterlab for its shared packages)
labextension: $(BIN)/sysnb
	cd labextension && npm ci --silent --no-audit --no-fund && PATH=$(CURDIR)/$(BIN):$$PATH npm run build

LAB_PORT ?= 8888

run: setup
	@token=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(24))'); \
	echo "JupyterLab on the investigation notebook (Ctrl-C stops it); open:"; \
	echo "    http://127.0.0.1:$(LAB_PORT)/lab/tree/02-incident-investigation.ipynb?token=$$token"; \
	exec $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) --allow-root \
	    --IdentityProvider.token=$$token --ServerApp.root_dir=$(CURDIR)/notebooks \
	    --LabApp.default_url=/lab/tree/02-incident-investigation.ipynb

demo: setup
	$(BIN)/sysnb -r $(SAMPLE) -n 20
	@echo
	$(BIN)/sysnb -r $(SAMPLE) -S -q

# Re-execute the notebooks and store their outputs (what nbval then checks)
notebooks: setup
	$(BIN)/python tools/build_notebooks.py

report: setup
	$(BIN)/python -m sysnb.report notebooks/02-incident-investigation.ipynb -o build/incident-report.html

# Every suite runs even when an earlier one fails; a summary of all of them comes last (.ci/suites.sh)
lint: setup
	.ci/suites.sh ruff mypy

test: setup
	.ci/suites.sh

# The live recorder tests twice in a row while busy loops keep every CPU loaded (tools/ci_under_load.sh;
# LOAD=syscall|cpu|yes, RUNS=2, SUITES="live" or e.g. SUITES="pytest live notebooks")
test-under-load: setup
	tools/ci_under_load.sh

# The native core's own checks (cargo fmt, clippy -D warnings, tests); release profile, so the dependencies
# built for the Python module are reused
native-check:
	cd native && cargo fmt --check && cargo clippy --release --all-targets -- -D warnings \
	    && cargo clippy --release --no-default-features --all-targets -- -D warnings \
	    && cargo test --release --no-default-features

# Coverage-guided fuzzing of the reader and state engine: regression inputs, then FUZZ_SECONDS of search
FUZZ_SECONDS ?= 60
fuzz:
	native/fuzz/smoke.sh $(FUZZ_SECONDS)

# Needs sysdig 0.29.3 (apt-get install --no-install-recommends sysdig) and ../shared/captures/public
goldens:
	tools/make_goldens.sh

bench: setup
	$(BIN)/python benchmarks/bench_core.py
	cd benchmarks && ../$(BIN)/python bench_explorer.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
