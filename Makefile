# Entry points. `make demo` and `make test` each set everything up first (via `make install`).
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-fast clean

install:
	@bash scripts/install.sh

demo: install
	$(PY) -m dcos_scaleio.sandbox demo

test: install
	bash scripts/run-tests.sh $(PYTEST_ARGS)

# The pure-core unit tests only (no sandbox processes); handy while editing the plan engine.
test-fast: install
	$(PY) -m pytest -q -m "not sandbox" tests $(PYTEST_ARGS)

clean:
	rm -rf build .venv .pytest_cache .hypothesis
