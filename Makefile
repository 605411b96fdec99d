# flowstack: every target sets up what it needs on a fresh machine.
#   make stack-zip [STACK=flowspace]   build dist/$(STACK)-stack.zip from stacks/$(STACK).yaml
#   make test                          the fast tests, then the slow end-to-end ones (CI runs this)
#   make test-fast                     only the tests not marked slow (quick iteration)
#   make lint                          ruff (lint, import order, complexity) and mypy on generator/
#   make bench                         print benchmark figures
#   make golden                        rewrite tests/golden/ from the generator (review the diff, commit it)
#   make test-vm                       only the VM boot rig (QEMU + cloud-init + Docker; docs/testing-vm.md)
#   make livekit / make caddy-l4       build the pinned LiveKit server / Caddy with layer4 (.tools/)
#   make test-engine                   only the real Docker engine rig's tests (docs/testing-engine.md)
SHELL := /bin/bash
PYTHON ?= python3
STACK ?= flowspace
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VERSION := 3.3.30
OCI_CLI_VERSION := 3.95.1
# Resource Manager runs Terraform 1.5.x; tests run the stacks through this one (generator/tfdouble).
TERRAFORM_VERSION := 1.5.7
TERRAFORM := .tools/terraform-$(TERRAFORM_VERSION)/terraform

.PHONY: golden pebble test-vm vm-rig vm-deps bench-boot engine-deps docker-plugins engine-images test-engine stack-zip generate validate test test-fast test-slow test-livekit test-multinode lint bench venv node sample-app-cache checkov ocicli system-deps livekit caddy-l4 terraform tfdouble-test bench-tfdouble clean

# flowstack finds Checkov on PATH or here; the Makefile's own copy lives in .venv-checkov.
export FLOWSTACK_CHECKOV := $(CURDIR)/.venv-checkov/bin/checkov

# Building a zip needs flowstack alone: `make stack-zip` installs it without the test and media extras.
stack-zip: $(VENV)/.installed-base
	$(BIN)/flowstack zip stacks/$(STACK).yaml -o dist/$(STACK)-stack.zip

generate: $(VENV)/.installed-base
	$(BIN)/flowstack generate stacks/$(STACK).yaml -o build/$(STACK)

validate: $(VENV)/.installed checkov
	$(BIN)/flowstack generate stacks/$(STACK).yaml -o build/$(STACK)
	$(BIN)/flowstack validate build/$(STACK)

test: lint test-fast test-slow test-vm

# The fast suite on TEST_WORKERS pytest-xdist workers (one per core here); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test-fast: $(VENV)/.installed node checkov system-deps terraform
	$(BIN)/pytest -q -m "not slow" -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The slow tests include the LiveKit rig and doctor --media, which need the built server and layer4 Caddy.
# The VM boot rig (marker vm: one VM booted once, ~35 min here) is its own step, `make test-vm`.
test-slow: $(VENV)/.installed node sample-app-cache checkov system-deps terraform livekit caddy-l4 engine-deps docker-plugins pebble
	$(BIN)/pytest -q -m "slow and not vm" $(PYTEST_ARGS)

# Pebble, Let's Encrypt's test CA (the VM rig's ACME and the multi-node TLS test), from the Go module proxy.
pebble:
	bash tools/build-pebble.sh

lint: $(VENV)/.installed
	$(BIN)/ruff check generator
	$(BIN)/mypy generator

# The VM boot rig (tests/e2e/test_vm_boot.py): its system tools, then everything it builds, cached
# outside the clone under ~/.cache/flowstack (guest image, Pebble, Docker CLI plugins) so a
# second run is warm. The tests build whatever is missing themselves too; these targets only
# do it up front (and in the right order) so the test's own time is the boot.
vm-deps:
	bash tools/ensure-vm-deps.sh

vm-rig: vm-deps livekit pebble
	bash tools/build-vm-image.sh
	bash tools/build-docker-plugins.sh

test-vm: $(VENV)/.installed system-deps sample-app-cache vm-rig
	$(BIN)/pytest -q -n 0 -m vm tests/e2e/test_vm_boot.py $(PYTEST_ARGS)

# Boot to ready by phase, beside the rig's floor (boot to login with no user_data): ~2 VM boots.
bench-boot: $(VENV)/.installed vm-rig
	$(BIN)/python bench/bench_boot.py

# Only the LiveKit rig (real server, real Caddy, real client, network namespaces; needs root).
test-livekit: $(VENV)/.installed system-deps livekit caddy-l4
	$(BIN)/pytest -q tests/e2e/test_livekit_rig.py $(PYTEST_ARGS)

# Issue 25: several real LiveKit nodes + Redis + HAProxy in namespaces, and the sample app's adapter.
# tests/e2e/test_scale_tls.py also needs Pebble in ~/.cache/flowstack/pebble-v2.7.0 (the vm rig's tools/build-pebble.sh).
test-multinode: $(VENV)/.installed system-deps livekit caddy-l4 sample-app-cache
	$(BIN)/pytest -q -m multinode tests/e2e/test_multinode.py tests/e2e/test_scale_socketio.py tests/e2e/test_scale_tls.py $(PYTEST_ARGS)

# The real Docker engine rig (issue 20): dockerd only inside namespaces of its own, Compose and
# buildx as CLI plugins from the Go module proxy (cached in ~/.cache/flowstack/docker-plugins-*),
# images built FROM scratch (cached in ~/.cache/flowstack/images-*). docs/testing-engine.md.
engine-deps:
	tools/ensure-docker-engine.sh

docker-plugins:
	tools/build-docker-plugins.sh

engine-images: $(VENV)/.installed engine-deps livekit caddy-l4
	PYTHONPATH=$(CURDIR) $(BIN)/python -m tests.rig.engine_images

test-engine: $(VENV)/.installed system-deps engine-deps docker-plugins sample-app-cache livekit caddy-l4
	$(BIN)/pytest -q -m engine $(PYTEST_ARGS)

bench: $(VENV)/.installed ocicli bench-tfdouble
	$(BIN)/python bench/bench_startup.py --cold
	$(BIN)/python bench/bench_build.py
	$(BIN)/python bench/bench_rm.py
	$(BIN)/python bench/bench_rotate.py
	$(BIN)/python bench/bench_status.py
	$(MAKE) bench-boot

# Readable goldens (tests/golden/): re-written from what the generator makes now, so a change on
# purpose shows as a diff of the generated files.
golden: $(VENV)/.installed
	$(BIN)/pytest -q -n 0 tests/build/test_golden.py --update-goldens

# Two levels in one .venv: .installed-base is flowstack and its runtime dependencies (what
# stack-zip needs); .installed adds the test and media extras (what the test targets need).
venv: $(VENV)/.installed
$(VENV)/.installed-base: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@
$(VENV)/.installed: $(VENV)/.installed-base
	$(BIN)/pip install -q -e '.[test,media]'
	touch $@

# HashiCorp's formatter (hclwrite, as WebAssembly) for the `terraform fmt` test.
node: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The sample app's locked packages in a repository-local npm cache, so its end-to-end test
# runs `npm ci --offline` (a real install from the lockfile) without reaching the registry.
SAMPLE_APP := templates/sample-app
sample-app-cache: .cache/npm/.sample-app
# Also the several-node variant's lockfile (templates/scale/sample-app: + the Redis Streams adapter).
SCALE_SAMPLE_APP := templates/scale/sample-app
.cache/npm/.sample-app: $(SAMPLE_APP)/package.json $(SAMPLE_APP)/package-lock.json $(SCALE_SAMPLE_APP)/package.json $(SCALE_SAMPLE_APP)/package-lock.json
	rm -rf .tmp/sample-app-cache && mkdir -p .tmp/sample-app-cache .cache/npm
	cp $(SAMPLE_APP)/package.json $(SAMPLE_APP)/package-lock.json .tmp/sample-app-cache/
	cd .tmp/sample-app-cache && npm ci --cache ../../.cache/npm --no-audit --no-fund --loglevel=error
	rm -rf .tmp/sample-app-cache && mkdir -p .tmp/sample-app-cache
	cp $(SCALE_SAMPLE_APP)/package.json $(SCALE_SAMPLE_APP)/package-lock.json .tmp/sample-app-cache/
	cd .tmp/sample-app-cache && npm ci --cache ../../.cache/npm --no-audit --no-fund --loglevel=error
	rm -rf .tmp/sample-app-cache
	touch $@

# Checkov gets its own virtualenv: its bc-python-hcl2 installs a module named hcl2 that
# would shadow python-hcl2 in .venv.
checkov: .venv-checkov/.installed
.venv-checkov/.installed:
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q checkov==$(CHECKOV_VERSION)
	touch $@

# The OCI CLI, only for the benchmark that compares it with rm-apply (it pins its own oci SDK).
ocicli: .venv-ocicli/.installed
.venv-ocicli/.installed:
	test -x .venv-ocicli/bin/python || $(PYTHON) -m venv .venv-ocicli
	.venv-ocicli/bin/pip install -q oci-cli==$(OCI_CLI_VERSION)
	touch $@

# The real LiveKit server at the version generator/data/versions.yaml pins, and Caddy with the
# layer4 app (what livekit/caddyl4 carries), built from the Go module proxy into .tools/ (git-ignored,
# keyed by version; a few minutes once, nothing when present).
livekit: $(VENV)/.installed | .tools
	PYTHON=$(BIN)/python tools/build-livekit.sh

caddy-l4: $(VENV)/.installed | .tools
	PYTHON=$(BIN)/python tools/build-caddy-l4.sh

# Terraform $(TERRAFORM_VERSION) (MPL-2.0) built from source through the Go module proxy, into the
# git-ignored .tools/ (generator/tfdouble/runner.py finds it there). Needs Go; fails loudly without it.
terraform: $(TERRAFORM)

# The tools built from source (Terraform, LiveKit, layer4 Caddy, keyed by version) live outside
# the clone, so another checkout (CI's fresh clone, a worktree) finds them already built.
TOOLS_CACHE ?= $(HOME)/.cache/flowstack/tools
.tools:
	mkdir -p $(TOOLS_CACHE) && ln -sfn $(TOOLS_CACHE) $@

$(TERRAFORM): | .tools
	@command -v go >/dev/null || { echo "make terraform: Go is needed to build Terraform $(TERRAFORM_VERSION) (or set FLOWSTACK_TERRAFORM)"; exit 1; }
	GOBIN=$(CURDIR)/.tools/terraform-$(TERRAFORM_VERSION) nice go install github.com/hashicorp/terraform@v$(TERRAFORM_VERSION)
	$(TERRAFORM) version

# Only the provider-double tests (real Terraform against generator/tfdouble).
tfdouble-test: $(VENV)/.installed terraform
	$(BIN)/pytest -q tests/tfdouble/test_tfdouble.py tests/tfdouble/test_tfdouble_apply.py $(PYTEST_ARGS)

# Figures for real Terraform through the double (validate + plan, PLAN and APPLY jobs).
bench-tfdouble: $(VENV)/.installed terraform
	$(BIN)/python tools/bench_tfdouble.py

# caddy, cloud-init and iptables from Debian: the tests run the real validators.
system-deps:
	@tools/ensure-system-deps.sh

clean:
	rm -rf build dist .pytest_cache
