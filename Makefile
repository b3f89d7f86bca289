# bt86 top-level driver. `make test` and `make demo` work on a fresh Debian 12
# machine: they install any missing Debian packages first (as root), then
# configure and build with CMake.
BUILD ?= build
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps configure test demo bench clean format

all: configure
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/install-deps.sh

configure: $(BUILD)/CMakeCache.txt

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

test: deps all
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: deps all
	$(BUILD)/bt86 run --stats --timeout 20 $(BUILD)/guests/demo.elf

bench: deps all
	bench/run_workload.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h' '*.c')

clean:
	rm -rf $(BUILD)
