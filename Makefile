# imapfsm: the spec-driven IMAP server. `make help` lists the targets.

GO      ?= go
SPECS   ?= spec/imap.yaml spec/lmtp.yaml
FSMGEN  := $(GO) run ./gen/cmd/fsmgen
BENCH   ?= .
FUZZTIME ?= 60s

STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help generate check lint test bench run fuzz proptest-long bench-peers

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

generate: ## verify the specs and regenerate their packages (fsm/, server/lmtp/lmtpfsm/: Go tables, MACHINE.md)
	@for s in $(SPECS); do $(FSMGEN) generate -spec $$s || exit 1; done

check: ## verify the specs, report every problem as file:line:col, and fail if a generated package is stale
	@for s in $(SPECS); do $(FSMGEN) check $$s && $(FSMGEN) generate -spec $$s -verify || exit 1; done

lint: ## gofmt, go mod tidy (unchanged), go vet and staticcheck over the whole module
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(STATICCHECK) ./...

test: ## run the whole test suite with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

bench: ## run the benchmarks (BENCH=regexp to select)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 60s)
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./server/imapwire
	$(GO) test -run '^$$' -fuzz '^FuzzSession$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./server
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./gen

proptest-long: ## run the property tests with 100x more cases (soak)
	IMAPFSM_PROPTEST_LONG=1 $(GO) test -count=1 -timeout 60m ./proptest/...

run: ## build imapd and serve ./data on 127.0.0.1:1143 (account demo, password demo)
	$(GO) build -o bin/imapd ./server/cmd/imapd
	./bin/imapd demo --data ./data --listen 127.0.0.1:1143

PEERS_FLAGS ?=
bench-peers: ## compare imapd with Dovecot, same run, every mix (installs dovecot-imapd if missing; PEERS_FLAGS=... for imapload peers)
	command -v dovecot >/dev/null 2>&1 || PATH="$$PATH:/usr/sbin" command -v dovecot >/dev/null 2>&1 || \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd; }
	$(GO) build -o bin/imapd ./server/cmd/imapd
	$(GO) build -o bin/imapload ./server/cmd/imapload
	PATH="$$PATH:/usr/sbin" ./bin/imapload peers --imapd ./bin/imapd $(PEERS_FLAGS)
