# Bedside build and test entry points. `make run` starts a local server;
# `make test` runs every check that CI runs.

GO        ?= go
DATA_DIR  ?= ./data
ADDR      ?= 127.0.0.1:8080
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)
WEB_DIR   := clients/web

.PHONY: all build web run test vet staticcheck gotest webtest e2e sfu-browser clean

all: build

# web builds the browser app into clients/web/dist, which the binary embeds.
web:
	@if [ -f $(WEB_DIR)/package.json ]; then \
		cd $(WEB_DIR) && ( [ -d node_modules ] || npm ci --no-audit --no-fund ) && npm run build --if-present; \
	fi

VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

build: web
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/bedside ./cmd/bedside
	$(GO) build -o bin/bedside-client ./cmd/bedside-client

run: build
	./bin/bedside serve --addr $(ADDR) --data-dir $(DATA_DIR)

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

gotest:
	$(GO) test -race -timeout 15m ./...

webtest:
	@if [ -f $(WEB_DIR)/package.json ]; then \
		cd $(WEB_DIR) && ( [ -d node_modules ] || npm ci --no-audit --no-fund ) && npm test; \
	fi

# e2e runs the browser tests inside a network namespace that holds only
# loopback (needs root): Chromium against the SFU alone, then the whole
# product with two browsers.
e2e: sfu-browser
	@if [ -f $(WEB_DIR)/e2e/run.sh ]; then $(WEB_DIR)/e2e/run.sh; fi

sfu-browser:
	unshare -n sh -c 'ip link set lo up && $(GO) test -tags browser -count=1 -run Browser ./sfu'


test: web vet staticcheck gotest webtest e2e

clean:
	rm -rf bin $(WEB_DIR)/dist
