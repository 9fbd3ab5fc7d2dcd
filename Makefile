# Thin wrapper over meson: deps, build, run, test, bench, fuzz.
# The two set-up commands in README (make run, make test) start here.
BUILD      ?= build
ASAN_BUILD ?= build-asan
DEPS = meson ninja-build pkg-config gcc libssl-dev libjansson-dev \
       libevent-dev libunbound-dev libldns-dev libpsl-dev \
       libidn2-dev libsqlite3-dev libpq-dev libcmocka-dev sqlite3 openssl dns-root-data
TEST_DEPS = certbot lego pebble knot knot-dnsutils curl clang libclang-rt-14-dev postgresql haproxy

.PHONY: all deps test-deps build run test unit asan interop bench fuzz clean
all: deps build

deps:
	@tools/deps.sh $(DEPS)

test-deps:
	@tools/deps.sh $(DEPS) $(TEST_DEPS)

build: | deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) -Doptimization=2 -Ddebug=false >/dev/null
	ninja -C $(BUILD)

run: all
	./$(BUILD)/cobbled $(ARGS)

$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

test: test-deps
	@tools/run-tests.sh

# SKIP_AGENT=1 leaves out bench/agent.sh (cobble vs certbot vs lego, one certificate each)
bench: test-deps build
	@bench/run.sh
	@if [ "$${SKIP_AGENT:-0}" != 1 ]; then bench/agent.sh; fi

fuzz: test-deps
	@test -f build-fuzz/build.ninja || CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	ninja -C build-fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
