# Genesis — the two commands are `make run` and `make test`; both do all set-up.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
GENESIS_HOME ?= $(HOME)/.genesis
export GENESIS_HOME
# The default model; `deploy/ollama/install.sh` provisions it.
MODEL ?= ollama:smollm2:135m
# make run's campaign: 12 lab experiments, up to 4 per iteration (about 10 minutes on 2 cores).
BUDGET ?= 12
TEMPORAL_CLI_VERSION := v1.5.1
STATICCHECK_VERSION := v0.8.2
ARGS ?=

.PHONY: run test build deps temporal ollama slurm slurm-stop chromium lint unit e2e fuzz models-test bench bench-agents bench-search bench-botorch clean help

help: ## show the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: deps build ## set up everything and run one campaign on the default challenge
	./bin/genesis run --model $(MODEL) --budget $(BUDGET) $(ARGS)

build: ## build bin/genesis
	$(GO) build -o bin/genesis ./cmd/genesis

deps: temporal ollama ## install the Temporal CLI and Ollama with its models (idempotent)

temporal: ## install the Temporal CLI (dev server + web UI) if missing
	@if command -v temporal >/dev/null 2>&1 && temporal --version 2>/dev/null | grep -q 'Server 1.29.1'; then \
		echo "temporal: $$(temporal --version | head -1)"; \
	else \
		echo "temporal: installing CLI $(TEMPORAL_CLI_VERSION) (first build takes ~4 min)"; \
		$(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION); \
	fi

ollama: ## install and start Ollama and provision the models
	GENESIS_HOME=$(GENESIS_HOME) bash deploy/ollama/install.sh

slurm: ## install and start a single-node Slurm cluster (idempotent; needs root or sudo)
	bash deploy/slurm/install.sh

chromium: ## install Debian's headless Chromium for the web UI tests (idempotent; needs root or sudo)
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(chromium --version 2>/dev/null | head -1)"; else \
		echo "chromium: installing (apt)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium >/tmp/genesis-chromium-apt.log 2>&1 || \
		{ $$SUDO apt-get update -q >>/tmp/genesis-chromium-apt.log 2>&1; DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium >>/tmp/genesis-chromium-apt.log 2>&1; } || \
		{ tail -20 /tmp/genesis-chromium-apt.log; exit 1; }; fi

slurm-stop: ## stop the single-node Slurm cluster
	bash deploy/slurm/stop.sh

lint: ## gofmt, go vet, staticcheck, workflowcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	staticcheck ./...
	@command -v workflowcheck >/dev/null 2>&1 || $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
	workflowcheck ./workflows/campaignflow/ ./workflows/portfolioflow/ ./workflows/chat/

unit: ## unit tests (race detector)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /workflows/e2e)

e2e: ## end-to-end tests on a real in-process Temporal server
	$(GO) test -count=1 -timeout 20m -skip RealModel ./workflows/e2e/

# Test cases per API operation for make fuzz (about 80 s for both specs at 100 on 2 cores).
FUZZ_EXAMPLES ?= 100
fuzz: ## property-based fuzzing of the API and the lab against their OpenAPI specs (schemathesis, installed into $GENESIS_HOME/venv-fuzz)
	@exe=$$(bash deploy/fuzz/install.sh) && \
	GENESIS_SCHEMATHESIS=$$exe GENESIS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(GO) test -count=1 -timeout 15m -v -run '^TestOpenAPIFuzz$$' ./workflows/e2e/

models-test: ## tests against the real local model in Ollama
	GENESIS_OLLAMA_TEST=1 GENESIS_TEST_MODEL=$(MODEL) $(GO) test -count=1 -timeout 30m ./agents/llm/realtest/
	GENESIS_OLLAMA_TEST=1 GENESIS_TEST_MODEL=$(MODEL) $(GO) test -count=1 -timeout 30m -run RealModel -v ./workflows/e2e/

# make test requires the Slurm tests to run (they skip when Slurm is absent elsewhere).
test: export GENESIS_SLURM_TEST := 1
test: export GENESIS_BROWSER_TEST := 1
test: deps slurm chromium lint unit e2e fuzz models-test ## set up everything and run every test tier

bench: temporal ## benchmarks (orchestration overhead, optimiser, lab submit throughput, HPC executors, eval overhead, portfolio grants; the agent loop with the real model: make bench-agents)
	$(GO) test -run '^$$' -bench . -benchtime 20x ./workflows/ ./optimizer/
	$(GO) test -run '^$$' -bench Submit50Clients -benchtime 4000x ./lab/
	$(GO) test -run '^$$' -bench SimulateActivityOverhead -benchtime 20x ./workflows/e2e/
	GENESIS_BENCH_DEVSERVER=1 $(GO) test -run '^$$' -bench EvalOrchestrationOverhead -benchtime 5x ./workflows/e2e/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./tools/hpc/
	$(GO) test -run '^$$' -bench Grant -benchtime 20000x ./portfolio/
	$(GO) test -run '^$$' -bench Portfolio -benchtime 1x -timeout 20m ./workflows/e2e/

bench-search: build ## the optimiser on every dev pool: before/now/random, 50 seeds (~10 min), and q-EI batches
	./bin/genesis bench search --challenges pools --configs random,bo-onehot,bo --seeds 50 --budget 50
	./bin/genesis bench search --challenges categorical --configs bo-ei,bo-ucb --batch 4 --seeds 30 --budget 20

bench-botorch: build ## BoTorch side by side on the categorical pools (installs torch + BoTorch into a virtualenv; slow)
	bash evals/reference/botorch.sh --challenges categorical --seeds 20 --budget 20 --configs bo,bo-onehot,random

# The agent loop per lab experiment with the real model: wall time, calls, prompt tokens evaluated and cached,
# generated tokens, per role, and discovery quality. BENCH_ARGS passes settings, e.g.
# make bench-agents BENCH_ARGS="GENESIS_BENCH_SEEDS=1 GENESIS_BENCH_OUT=/tmp/after.json GENESIS_BENCH_BASELINE=/tmp/before.json"
BENCH_ARGS ?=
bench-agents: ollama ## the agent loop per lab experiment with the real model (3 dev challenges × 3 seeds × budget 12)
	GENESIS_OLLAMA_TEST=1 GENESIS_TEST_MODEL=$(MODEL) $(BENCH_ARGS) $(GO) test -count=1 -run '^$$' -bench AgentLoop -benchtime 1x -timeout 8h ./workflows/e2e/

clean: ## remove build output
	rm -rf bin
