# The one place that says how to build and check. CI (.ci/run) and the README
# use these targets, so what passes here passes there.

GO        ?= go
BIN       ?= bin/synchronizer
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOFILES    = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')

.PHONY: all build test fmt-check vet check-imports unit proto check-metrics check-rules check-systemd clean demo bench bench-small

all: test build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/synchronizer

# `make test` is the whole test: formatting, vet, the import rules, and every
# package's tests with the race detector.
test: fmt-check vet check-imports unit

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The layout's import rules: the daemon never imports a concrete provider,
# providers never import the daemon, the engine and scheduler depend on no
# storage or RPC package, and only the plugin host runs programs.
check-imports:
	@$(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... | awk -F': ' '{ \
	  pkg=$$1; n=split($$2, imps, " "); \
	  for (i=1;i<=n;i++) { imp=imps[i]; \
	    if (pkg ~ /^synchronizer\/daemon\// && imp ~ /^synchronizer\/plugins\/(superoffice|m365|google)/) print pkg " imports the provider " imp; \
	    if (pkg ~ /^synchronizer\/plugins\// && imp ~ /^synchronizer\/daemon\//) print pkg " (a plugin) imports " imp; \
	    if (pkg ~ /^synchronizer\/daemon\/(engine|scheduler)/ && imp ~ /(bbolt|google\.golang\.org\/grpc|hashicorp\/go-plugin)/) print pkg " imports " imp; \
	    if (pkg ~ /^synchronizer\/daemon\// && pkg !~ /^synchronizer\/daemon\/pluginhost/ && imp == "os/exec") print pkg " imports os/exec (only daemon/pluginhost may)"; \
	  } }' > .imports.err; \
	if [ -s .imports.err ]; then echo "import rules broken:"; cat .imports.err; rm -f .imports.err; exit 1; fi; rm -f .imports.err; echo "import rules: ok"

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

# Regenerates the plugin wire contract's Go code (committed).
proto:
	./plugins/proto/generate.sh

# Starts the daemon on the example configuration with every service
# unreachable, scrapes /metrics and checks it with promtool.
check-metrics: build
	@tmp=$$(mktemp -d); trap 'kill $$pid 2>/dev/null; rm -rf $$tmp' EXIT; \
	$(BIN) keygen -out $$tmp/key >/dev/null || exit 1; \
	SYNCHRONIZER_DATA_DIR=$$tmp/data SYNCHRONIZER_KEY_FILE=$$tmp/key \
	  $(BIN) run -config config.example.hcl -admin-address 127.0.0.1:0 -consent-address 127.0.0.1:0 2>$$tmp/log & pid=$$!; \
	addr=; for i in $$(seq 100); do \
	  addr=$$(sed -n 's/.*msg=listening listener=admin_address address=\([0-9.:]*\).*/\1/p' $$tmp/log); \
	  [ -n "$$addr" ] && break; sleep 0.1; done; \
	if [ -z "$$addr" ]; then echo "daemon did not start:"; cat $$tmp/log; exit 1; fi; \
	curl -sSf "http://$$addr/metrics" > $$tmp/scrape || exit 1; \
	promtool check metrics < $$tmp/scrape || exit 1; \
	for m in licenses licenses_used links sync_runs_total sync_duration_seconds items_synced_total conflicts_total \
	  provider_requests_total provider_request_duration_seconds provider_throttled_total plugin_restarts_total \
	  last_success_timestamp_seconds config_last_reload_successful; do \
	  grep -q "^# TYPE synchronizer_$$m " $$tmp/scrape || { echo "missing synchronizer_$$m"; exit 1; }; done; \
	echo "promtool check metrics: ok ($$(grep -c '^synchronizer_' $$tmp/scrape) synchronizer series)"

# The monitoring assets: promtool checks the Prometheus rules and runs their unit
# tests; the Go tests check that the rules and the Grafana dashboard name only
# metrics, labels and values the daemon serves, and that the dashboard is sound.
check-rules:
	promtool check rules monitoring/prometheus/*.rules.yml
	promtool test rules monitoring/prometheus/*_test.yml
	$(GO) test -count=1 ./monitoring/

check-systemd: build
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	cp $(BIN) $$tmp/synchronizer; \
	sed "s|/usr/local/bin/synchronizer|$$tmp/synchronizer|g" systemd/synchronizer.service > $$tmp/synchronizer.service; \
	systemd-analyze verify $$tmp/synchronizer.service 2>$$tmp/verify.err; rc=$$?; \
	if [ $$rc -ne 0 ] || [ -s $$tmp/verify.err ]; then echo "systemd-analyze verify:"; cat $$tmp/verify.err; exit 1; fi; \
	echo "systemd-analyze verify: ok"; \
	systemd-analyze security --offline=true --threshold=30 $$tmp/synchronizer.service | tail -n 1

# The demo: emulated services in-process, two profiles, consent completed, synced.
demo: build
	$(BIN) run -dev

# The benchmark: `synchronizer emulate` and a daemon as separate processes at
# scale (1,000 users linked in both profiles: 2,000 links, 300 items seeded per
# diary and calendar), clean and with 10 % of requests throttled and 2 % failing;
# a table on the terminal and the figures in bench.json. BENCH_FLAGS adds or
# overrides flags (go run ./bench/cmd/synchronizer-bench -h lists them).
BENCH_FLAGS ?=
bench: build
	$(GO) run ./bench/cmd/synchronizer-bench -bin $(BIN) -out bench.json $(BENCH_FLAGS)

# The same at a small scale, in well under two minutes (CI runs it; its figures
# are not checked against targets there, only that every step works and that
# nothing is duplicated or lost). Its seed is fixed so that a CI failure can be
# replayed; BENCH_FLAGS=-seed=N tries another. Known open bug: with some seeds
# (849301 on 2026-11-25) a weekly SuperOffice series that crosses a DST change
# gets its Google copy an hour off after the change.
bench-small: build
	$(GO) run ./bench/cmd/synchronizer-bench -bin $(BIN) -out bench-small.json \
	  -users 2 -events 10 -changes 10 -workers 4 -interval 5s -change-timeout 60s -sync-timeout 90s -fail-on-loss -seed 132275 $(BENCH_FLAGS)

clean:
	rm -rf bin
