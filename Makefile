# flowstack: every target sets up what it needs on a fresh machine.
#   make stack-zip [STACK=flowspace]   build dist/$(STACK)-stack.zip from stacks/$(STACK).yaml
#   make test                          the fast tests, then the slow end-to-end ones (CI runs this)
#   make test-fast                     only the tests not marked slow (quick iteration)
#   make lint                          ruff (lint, import order, complexity) and mypy on generator/
#   make bench                         print benchmark figures
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

.PHONY: stack-zip generate validate test test-fast test-slow lint bench venv node checkov ocicli system-deps terraform tfdouble-test bench-tfdouble clean

# flowstack finds Checkov on PATH or here; the Makefile's own copy lives in .venv-checkov.
export FLOWSTACK_CHECKOV := $(CURDIR)/.venv-checkov/bin/checkov

stack-zip: $(VENV)/.installed
	$(BIN)/flowstack zip stacks/$(STACK).yaml -o dist/$(STACK)-stack.zip

generate: $(VENV)/.installed
	$(BIN)/flowstack generate stacks/$(STACK).yaml -o build/$(STACK)

validate: $(VENV)/.installed checkov
	$(BIN)/flowstack generate stacks/$(STACK).yaml -o build/$(STACK)
	$(BIN)/flowstack validate build/$(STACK)

test: lint test-fast test-slow

test-fast: $(VENV)/.installed node checkov system-deps terraform
	$(BIN)/pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: $(VENV)/.installed node checkov system-deps terraform
	$(BIN)/pytest -q -m slow $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check generator
	$(BIN)/mypy generator

bench: $(VENV)/.installed ocicli bench-tfdouble
	$(BIN)/python bench/bench_build.py
	$(BIN)/python bench/bench_rm.py

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# HashiCorp's formatter (hclwrite, as WebAssembly) for the `terraform fmt` test.
node: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
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

# Terraform $(TERRAFORM_VERSION) (MPL-2.0) built from source through the Go module proxy, into the
# git-ignored .tools/ (generator/tfdouble/runner.py finds it there). Needs Go; fails loudly without it.
terraform: $(TERRAFORM)
$(TERRAFORM):
	@command -v go >/dev/null || { echo "make terraform: Go is needed to build Terraform $(TERRAFORM_VERSION) (or set FLOWSTACK_TERRAFORM)"; exit 1; }
	GOBIN=$(CURDIR)/.tools/terraform-$(TERRAFORM_VERSION) nice go install github.com/hashicorp/terraform@v$(TERRAFORM_VERSION)
	$(TERRAFORM) version

# Only the provider-double tests (real Terraform against generator/tfdouble).
tfdouble-test: $(VENV)/.installed terraform
	$(BIN)/pytest -q tests/test_tfdouble.py tests/test_tfdouble_apply.py $(PYTEST_ARGS)

# Figures for real Terraform through the double (validate + plan, PLAN and APPLY jobs).
bench-tfdouble: $(VENV)/.installed terraform
	$(BIN)/python tools/bench_tfdouble.py

# caddy, cloud-init and iptables from Debian: the tests run the real validators.
system-deps:
	@tools/ensure-system-deps.sh

clean:
	rm -rf build dist .pytest_cache
