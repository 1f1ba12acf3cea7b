# The README's two commands: `make run` and `make test`. Everything installs into .venv from nothing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the checkout this Makefile really lives in (tests/e2e/test_readme.py runs `make run` from a directory of
# symlinks; the editable install must point at the checkout, never at that scratch directory)
ROOT := $(patsubst %/,%,$(dir $(realpath $(firstword $(MAKEFILE_LIST)))))

.PHONY: run install system-deps keystone backends test lint bench fuzz clean interop interop-glance compat glare

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '$(ROOT)[test]'
	touch $(STAMP)

install: $(STAMP)

## Install, then run the service on its embedded defaults (SQLite + filesystem store + token auth) on :9292
run: install
	$(BIN)/glimpse serve

## Debian tools the tests drive for real: qemu-img (image-format safety), xorriso (ISO images), cryptsetup (LUKS), a headless
## Chromium with its WebDriver for the dashboard's browser tests (tests/browser), and HAProxy, socat and iproute2 for the
## several-node tests (tests/cluster: nodes in network namespaces behind HAProxy)
system-deps:
	@command -v qemu-img >/dev/null && command -v xorriso >/dev/null && command -v cryptsetup >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-utils xorriso cryptsetup-bin >/dev/null; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@command -v haproxy >/dev/null && command -v socat >/dev/null && command -v ip >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy socat iproute2 >/dev/null; }

## A real Keystone on 127.0.0.1:5000 for the e2e tests (its own venv in ~/.cache; reused while healthy)
keystone:
	scripts/keystone-up

## Real storage servers for the store drivers' tests: a Swift all-in-one with S3 (s3api) on 127.0.0.1:8080 and a
## single-node Ceph (its own state in ~/.cache; reused while healthy); librados/librbd bindings linked into .venv;
## a Barbican key manager on 127.0.0.1:9311 with Keystone auth (scripts/barbican-up, brings Keystone up too); a
## PostgreSQL streaming replica of 127.0.0.1:5432 on 127.0.0.1:5433 for the read-replica tests (seconds to copy); a
## Heat (orchestration) on 127.0.0.1:8004 for the dashboard's stack launches (scripts/heat-up: about 2 min from
## nothing, about a second when reused); a Nova (compute, fake virt driver) with Placement on 127.0.0.1:8774 and
## :8778 for the dashboard's server launches (scripts/nova-up: about 7 min from nothing on a loaded machine, most
## of it pip; a few seconds when reused)
backends: install
	scripts/swift-up
	scripts/ceph-up $(VENV)
	scripts/barbican-up
	scripts/pg-replica-up
	scripts/heat-up
	scripts/nova-up

## Install, then run every check and the whole suite on SQLite and on PostgreSQL (the two passes side by side)
test: install system-deps lint keystone backends
	@# the SQLite and PostgreSQL passes side by side (scripts/test-passes)
	scripts/test-passes $(BIN)

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

## Glance's own public suites (Tempest's tempest.api.image, glance-tempest-plugin) against a live Glimpse with
## Keystone auth (tests/interop/README.md); fails when a test of tests/interop/must-pass.txt does not pass
INTEROP_RESULTS ?= $(VENV)/interop-results.txt
interop: install system-deps keystone
	GLIMPSE_INTEROP_RESULTS=$(INTEROP_RESULTS) scripts/interop glimpse
	$(BIN)/python tests/interop/failures.py check tests/interop/must-pass.txt $(INTEROP_RESULTS)

## Glare 5.0.1's own functional tests against `glimpse artifacts serve` (scripts/glare-tests: their Python 3.8
## venv under ~/.cache/glimpse-glare, reused while its pins hold); fails when a test of
## tests/interop/glare-must-pass.txt does not pass
GLARE_RESULTS ?= $(VENV)/glare-results.txt
glare: install
	GLIMPSE_GLARE_RESULTS=$(GLARE_RESULTS) scripts/glare-tests || true
	$(BIN)/python tests/interop/failures.py check tests/interop/glare-must-pass.txt $(GLARE_RESULTS)

## The same suites against a real Glance 33 (its own venv, not part of CI): refreshes the reference results
interop-glance: system-deps keystone
	GLIMPSE_INTEROP_RESULTS=tests/interop/glance33-results.txt scripts/interop glance

## The same requests to Glance 33 and Glimpse side by side (tests/compat/), report in docs/compat-report.md
compat: install system-deps keystone
	scripts/glance-up
	scripts/glimpse-interop-up
	scripts/interop-files-up
	@# the metadata definitions Glance ships (glance-up loads them into Glance's database) into Glimpse's too
	GLIMPSE_CONFIG=$${GLIMPSE_INTEROP_HOME:-$$HOME/.cache/glimpse-interop}/glimpse/glimpse.conf $(BIN)/glimpse metadefs load \
	  --merge "$$(dirname "$$(find $${GLIMPSE_GLANCE_HOME:-$$HOME/.cache/glimpse-glance}/venv -name glance-api-paste.ini | head -n 1)")/metadefs"
	$(BIN)/python tests/compat/harness.py --report docs/compat-report.md --commit "$$(git rev-parse --short HEAD)"

## A longer fuzzing campaign than CI's (schemathesis against a live server)
fuzz: install
	GLIMPSE_FUZZ_EXAMPLES=3000 $(BIN)/pytest -p no:cacheprovider tests/fuzz

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
