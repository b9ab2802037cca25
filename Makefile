# kinegrad: `make setup` once (idempotent and fast when nothing changed), then `make test`.
PYTHON ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
REQ_HASH := $(shell sha1sum requirements-dev.txt | cut -c1-12)
DEPS_STAMP := $(VENV)/.deps-$(REQ_HASH)
NATIVE_STAMP := $(VENV)/.native-stamp
NATIVE_SRC := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock pyproject.toml

.PHONY: setup assets test soak fuzz demo bench genesis-venv clean

setup: $(DEPS_STAMP) assets $(NATIVE_STAMP)

$(VPY):
	$(PYTHON) -m venv $(VENV)

# pinned build and test tools; the stamp is keyed on the requirements file's content
$(DEPS_STAMP): requirements-dev.txt | $(VPY)
	$(VPY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(VPY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	rm -f $(VENV)/.deps-*
	touch $@

# robot models (Genesis assets etc.) into .cache/assets; the script skips what is already there
assets: $(DEPS_STAMP)
	@if [ -f scripts/fetch_assets.py ]; then $(VPY) scripts/fetch_assets.py; \
	else echo "scripts/fetch_assets.py not present: no assets fetched"; fi

# the native module, installed editable into the venv; rebuilt when a Rust source changes
$(NATIVE_STAMP): $(DEPS_STAMP) $(NATIVE_SRC)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/maturin develop --release -q
	touch $@

test: setup
	cargo test --release -p kinegrad -p kinegrad-render
	$(VPY) -m pytest -q python/tests

# the long soak run (make test runs 2,000 of its steps): a Franka under random PD and torque control
soak: setup
	KINEGRAD_SOAK_STEPS=10000 $(VPY) -m pytest -q -s python/tests/test_soak.py

# the trajectory-optimization showcase in quick mode (plots to outputs/); examples/demo.py is the
# forward-only tour (a Franka under PD while objects fall): `.venv/bin/python examples/demo.py`
demo: setup
	$(VPY) examples/franka_trajopt.py --quick --out outputs
	@echo "plots in $(CURDIR)/outputs/ (franka_trajopt_loss.png, franka_trajopt_hand.png); more workflows: docs/differentiable_simulation.md"

bench: setup
	$(VPY) benches/bench.py
	$(VPY) benches/scale.py --sizes 8 27 64 125 216
	$(VPY) benches/robots.py
	$(VPY) benches/cones.py

# optional: Genesis (genesis-world, with its own torch: about 8 GB) in a separate venv, which
# `make bench` then runs as a peer on the same task (benches/genesis_peer.py)
genesis-venv: assets
	$(PYTHON) -m venv .cache/genesis-venv
	.cache/genesis-venv/bin/pip install --disable-pip-version-check -q torch $$(ls .cache/wheels/genesis_world-*.whl | tail -1)

clean:
	rm -rf $(VENV) .pytest_cache python/kinegrad/_native*.so
	find python -name __pycache__ -type d -prune -exec rm -rf {} +
	cargo clean

# the in-repo loader fuzzer (tests/fuzz_loaders.rs) for longer: FUZZ_SECONDS per target
# (default 300), FUZZ_SEED to vary the cases; findings are saved to crates/kinegrad/tests/fuzz/crashes/
FUZZ_SECONDS ?= 300
FUZZ_SEED ?= 1
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) cargo test --release -p kinegrad --test fuzz_loaders -- --nocapture
