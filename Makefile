# replicate-proxy — build, run, test.
#   make run        install missing build deps (as root), build, start with proxy.conf
#   make test       install missing test deps, then every test (plain and sanitized),
#                   then image-test (IMAGE_TEST=0 skips it)
#   make image-test build the container image with podman, run and test it; check deploy/
#   make test-asan  the unit and integration suites under ASan + UBSan only
#   make bench      the benchmarks in bench/ (prints figures)

CC       ?= cc
BUILD    ?= build
PKGS      = libcurl libcjson sqlite3 libcrypto libpq hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcurl -lcjson -lsqlite3 -lcrypto -lpq -lhiredis)
CFLAGS   ?= -O2 -g
SANITIZE ?=
WARN      = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
ALL_CFLAGS = -std=c11 $(WARN) -D_GNU_SOURCE -I/usr/include/cjson $(PKG_CFLAGS) $(CFLAGS) $(SANITIZE)
ALL_LDFLAGS = $(LDFLAGS) $(SANITIZE)
# `make VERSION=1.2.3` stamps `--version` (the image's VERSION build argument).
ifeq ($(origin VERSION),command line)
ALL_CFLAGS += -DVERSION='"$(VERSION)"'
endif
# The allocator: mimalloc, linked ahead of libc so it serves every malloc
# (ours, libcurl's, OpenSSL's), as Redis ships jemalloc. glibc's malloc and
# free were ~17% of a non-streamed request's instructions; with mimalloc the
# request costs 13% fewer (bench/README.md). `make MALLOC=` links glibc's;
# the sanitized build always does (ASan brings its own).
MALLOC   ?= -lmimalloc
LDLIBS   += $(PKG_LIBS) $(MALLOC) -lpthread -lm
SAN       = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SHARED_SRC = $(wildcard shared/*.c shared/dialects/*.c)
SERVER_SRC = $(wildcard server/*.c server/store/*.c)
# The ledger queue and the store (server/) are tested in the unit binary too.
UNIT_SRC   = $(wildcard tests/unit/*.c) server/ledger.c $(wildcard server/store/*.c)

# Debian packages each target needs; installed by `make deps` / `make test-deps`.
BUILD_DEBS = build-essential pkg-config libcurl4-openssl-dev libcjson-dev libsqlite3-dev libssl-dev libpq-dev libhiredis-dev libmimalloc-dev
TEST_DEBS  = $(BUILD_DEBS) curl clang libclang-rt-14-dev chromium openssl postgresql redis-server
# make image-test: podman (with runc), debootstrap for the base image, and the
# validators of deploy/ (docker-compose config, nginx -t, systemd-analyze).
IMAGE_TEST_DEBS = podman runc uidmap debootstrap docker-compose nginx-light systemd

.PHONY: build-clang all run test test-unit test-integration test-asan unit deps test-deps clean install bench fuzz image-test image-test-deps test-cli

all: $(BUILD)/replicate-proxy

$(BUILD)/%.o: %.c $(wildcard shared/*.h shared/dialects/*.h server/*.h server/store/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/replicate-proxy: $(SERVER_SRC:%.c=$(BUILD)/%.o) $(SHARED_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_SRC:%.c=$(BUILD)/%.o) $(SHARED_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $^ -o $@ $(LDLIBS)

# Installs only what is missing, and only when it can (root); otherwise says what to install.
define install_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run as root or install them)"; exit 1; fi; \
	fi
endef

deps:
	$(call install_debs,$(BUILD_DEBS))

test-deps:
	$(call install_debs,$(TEST_DEBS))
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "installing: nodejs npm"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@cd tests && { [ -d node_modules/openai ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

# The real Codex CLI and Claude Code against the fake (Responses and Messages
# end to end). Not in `make test`: the two tools are ~800 MB from npm.
CLI_TOOLS = @openai/codex@0.171.0 @anthropic-ai/claude-code@2.1.332
test-cli: test-deps $(BUILD)/replicate-proxy
	@[ -x build/cli/node_modules/.bin/codex ] && [ -x build/cli/node_modules/.bin/claude ] || \
	  npm install --prefix build/cli --no-audit --no-fund --loglevel=error $(CLI_TOOLS)
	cd tests && CODEX_BIN=$(abspath build/cli/node_modules/.bin/codex) \
	  CLAUDE_BIN=$(abspath build/cli/node_modules/.bin/claude) \
	  PROXY_BIN=$(abspath $(BUILD)/replicate-proxy) node --test integration/cli_e2e.test.mjs

image-test-deps: test-deps
	$(call install_debs,$(IMAGE_TEST_DEBS))

# Build the container image with podman and test it (tests/image/run.sh); also
# validates deploy/ (Kubernetes schemas, compose, nginx, systemd).
image-test: image-test-deps $(BUILD)/replicate-proxy
	PROXY_BIN=$(abspath $(BUILD)/replicate-proxy) bash tests/image/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/replicate-proxy --config proxy.conf

unit: $(BUILD)/unit-tests
	./$(BUILD)/unit-tests

test-unit: unit

test-integration: $(BUILD)/replicate-proxy
	cd tests && PROXY_BIN=$(abspath $(BUILD)/replicate-proxy) node --test --test-concurrency=2 integration/

test: test-deps
	@$(MAKE) --no-print-directory build-clang
	@$(MAKE) --no-print-directory unit test-integration
	@$(MAKE) --no-print-directory test-asan
	@if [ "$(IMAGE_TEST)" != 0 ]; then $(MAKE) --no-print-directory image-test; \
	 else echo "image-test skipped (IMAGE_TEST=0)"; fi

# The code must also build warning-free with clang, and its unit tests pass
# under clang's UBSan too (it sees what gcc's does not, e.g. NULL + 0).
build-clang:
	@$(MAKE) --no-print-directory CC=clang BUILD=build/clang build/clang/replicate-proxy build/clang/unit-tests
	@$(MAKE) --no-print-directory CC=clang BUILD=build/clang-san CFLAGS="-O1 -g" SANITIZE="$(SAN)" MALLOC= unit

# Same suites, sanitized build in build/asan (leaks fail the run).
test-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g" SANITIZE="$(SAN)" MALLOC= \
	  unit test-integration

# Benchmarks: print figures (5,000 streams, throughput vs nginx); not pass/fail.
bench: $(BUILD)/replicate-proxy test-deps
	bash bench/run.sh

# libFuzzer targets (clang + libclang-rt-14-dev); FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = sse stop think toolcall prediction request json_scan dialects http trace
fuzz:
	$(call install_debs,clang libclang-rt-14-dev)
	@mkdir -p build/fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -I/usr/include/cjson fuzz/fuzz_$$t.c $(SHARED_SRC) \
	    -lcjson -lcrypto -lm -o build/fuzz/fuzz_$$t; \
	  mkdir -p build/fuzz/corpus_$$t; \
	  ./build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus_$$t fuzz/seeds/$$t; \
	done

clean:
	rm -rf build

PREFIX ?= /usr/local
install: $(BUILD)/replicate-proxy
	install -D -m 0755 $(BUILD)/replicate-proxy $(DESTDIR)$(PREFIX)/bin/replicate-proxy
	install -D -m 0644 proxy.conf $(DESTDIR)/etc/replicate-proxy/proxy.conf
