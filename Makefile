# The README's two commands: `make run` and `make test`. Everything installs into .venv from nothing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run install system-deps keystone backends test lint bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Install, then run the service on its embedded defaults (SQLite + filesystem store + token auth) on :9292
run: install
	$(BIN)/glimpse serve

## Debian tools the tests drive for real: qemu-img (image-format safety) and xorriso (ISO images)
system-deps:
	@command -v qemu-img >/dev/null && command -v xorriso >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-utils xorriso >/dev/null; }

## A real Keystone on 127.0.0.1:5000 for the e2e tests (its own venv in ~/.cache; reused while healthy)
keystone:
	scripts/keystone-up

## Real storage servers for the store drivers' tests: a Swift all-in-one with S3 (s3api) on 127.0.0.1:8080 and a
## single-node Ceph (its own state in ~/.cache; reused while healthy); librados/librbd bindings linked into .venv
backends: install
	scripts/swift-up
	scripts/ceph-up $(VENV)

## Install, then run every check and the whole suite on SQLite and on PostgreSQL
test: install system-deps lint keystone backends
	GLIMPSE_TEST_DB=sqlite $(BIN)/pytest -p no:cacheprovider
	@# the store drivers' own tests (contract suite, tests/unit/stores) never open the database: the first pass ran them
	GLIMPSE_TEST_DB=postgresql $(BIN)/pytest -p no:cacheprovider --ignore=tests/contract --ignore=tests/unit/stores

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## A longer fuzzing campaign than CI's (schemathesis against a live server)
fuzz: install
	GLIMPSE_FUZZ_EXAMPLES=3000 $(BIN)/pytest -p no:cacheprovider tests/fuzz

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
