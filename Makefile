# portwatch — see README.md. Every target that needs system packages runs `deps` first.
GO      ?= go
DB      ?= var/ports.db
PREFIX  ?= /usr/local
SECONDS_PER_ROUND ?= 10
# Build tags of every build, bench and test: scripts/build-tags says which (urfave_cli_no_docs
# leaves out urfave/cli's man and markdown generation, nearly 1 ms of every start, issue 14).
TAGS    ?= $(shell cat scripts/build-tags)

.PHONY: build run test bench deps demo install clean fuzz model

build:
	$(GO) build -tags '$(TAGS)' -o bin/ ./cmd/...

# A fresh, untrained portae v1 with detect's default channels and window
# (models/README.md). Not committed: it is 16 MB of weights.
model: build
	@mkdir -p models
	./bin/detect model new --out models/portae.onnx

deps:
	@bash scripts/deps.sh

# One real collect round into $(DB), then what it stored.
run: deps build
	@mkdir -p $(dir $(DB))
	./bin/collect -d $(DB) -r $(SECONDS_PER_ROUND) -p --best-effort
	@bash scripts/show.sh $(DB)

test: deps
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) test -tags '$(TAGS)' -count=1 ./...

bench: deps build
	@bash scripts/bench.sh

# Build a history, train, inject an anomaly, detect, show the table and the plot.
demo: deps build
	@bash scripts/demo.sh

# Binaries into $(PREFIX)/bin; collect gets CAP_NET_RAW so nothing runs as root.
install: build
	@bash scripts/install.sh $(PREFIX)

clean:
	rm -rf bin var
