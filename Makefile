# Bedside build and test entry points. `make run` starts a local server;
# `make test` runs every check that CI runs.

GO        ?= go
DATA_DIR  ?= ./data
ADDR      ?= 127.0.0.1:8080
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)
WEB_DIR   := clients/web

.PHONY: all build web run test vet staticcheck gotest webtest e2e clean

all: build

# web builds the browser app into clients/web/dist, which the binary embeds.
web:
	@if [ -f $(WEB_DIR)/package.json ]; then \
		cd $(WEB_DIR) && ( [ -d node_modules ] || npm ci --no-audit --no-fund ) && npm run build --if-present; \
	fi

build: web
	$(GO) build -o bin/bedside ./cmd/bedside

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

e2e:
	@if [ -f $(WEB_DIR)/e2e/run.sh ]; then $(WEB_DIR)/e2e/run.sh; fi

test: web vet staticcheck gotest webtest e2e

clean:
	rm -rf bin $(WEB_DIR)/dist
