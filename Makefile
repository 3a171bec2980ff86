# The README's two commands: `make demo` and `make test`. Both set up the machine first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
COV_BUILD  ?= build-cov
JOBS       ?= 2
FUZZ_SECONDS ?= 60

.PHONY: all bootstrap build demo test asan-test coverage fuzz bench format format-check clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

asan-test: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DAXL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

# Line coverage of the whole test suite (-O0, gcov + lcov): a table per source file, and
# the `axle` commands (engine/cmd_*.c) against their 85% floor.
coverage: bootstrap
	@cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAXL_COVERAGE=ON >/dev/null
	@cmake --build $(COV_BUILD) -j$(JOBS)
	@scripts/coverage $(COV_BUILD) $(JOBS)

fuzz: bootstrap
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DAXL_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_proto_decode fuzz_experiment fuzz_replay_request
	@scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	@bench/run

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(COV_BUILD)
