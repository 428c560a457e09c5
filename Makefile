# Kiln's two commands for a fresh machine:
#   make run   start Postgres and Redis if needed, then Kiln (API, worker, scheduler)
#   make test  start Postgres and Redis if needed, then the whole test suite

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test services tools quality build

run: services tools build
	KILN_DIAGNOSTIC_KINDS=$${KILN_DIAGNOSTIC_KINDS:-1} \
	VECTOR_DATABASE_URL=$${VECTOR_DATABASE_URL:-$$(bash deploy/dev/pglite/start.sh)} ./bin/kiln dev

test: services tools
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

# Postgres and Redis. (PGlite, the Postgres with pgvector for RAG, is
# started by `make run` for its data, and by the tests, in memory, for
# theirs: this machine's Postgres has no pgvector.)
services:
	bash deploy/dev/services.sh

# pdftotext and espeak-ng, the yardsticks some tests measure against.
tools:
	bash deploy/dev/tools.sh

# The extraction quality report on the shared corpora (figures in the README).
quality: tools build
	./bin/kiln quality

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kiln ./cmd/kiln
