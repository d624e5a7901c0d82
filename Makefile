# Entry points. `make demo` and `make test` each set everything up first (via `make install`).
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-fast artifacts cli universe clean

install:
	@bash scripts/install.sh

demo: install
	$(PY) -m dcos_scaleio.sandbox demo

test: install
	bash scripts/run-tests.sh $(PYTEST_ARGS)

# Self-contained executor and scheduler bundles (PyInstaller onedir, .tar.gz + sha256) under
# build/artifacts/; rebuilt only when their inputs change. Tests that need them build them on demand.
artifacts: install
	bash scripts/build-artifacts.sh

# The `dcos-scaleio` CLI plugin binary (Linux x86-64, PyInstaller onedir zipped with bin/dcos-scaleio)
# as build/artifacts/dcos-scaleio-cli-linux-x86-64.zip + .sha256, for resource.json's cli.binaries.
cli: install
	bash scripts/build-artifacts.sh --only cli

# The Universe package and a v4 repository index (build/universe/repo.json) for the built artifacts,
# served from ARTIFACTS_URL (an operator mirror; default: this build folder).
ARTIFACTS_URL ?= file://$(CURDIR)/build/artifacts
universe: artifacts cli
	$(PY) packaging/universe.py --artifacts-url $(ARTIFACTS_URL)

# The pure-core unit tests only (no sandbox processes); handy while editing the plan engine.
test-fast: install
	$(PY) -m pytest -q -m "not sandbox" tests $(PYTEST_ARGS)

clean:
	rm -rf build .venv .pytest_cache .hypothesis
