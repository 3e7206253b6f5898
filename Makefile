# StorageAppliance: the commands a user relies on (see README.md).
#   make run    restore, build and start the appliance in the foreground (embedded config/appliance.yaml, data in ./data)
#   make test   install what the tests need, build, run every test; ends with "N passed, N failed"
#   make build  produce out/appliance
#   make bench  the appliance against tgtd (iSCSI) and ganesha (NFS) in one run; QUICK=1 for a smoke run (bench/run.py)
#   make bench-dedup  data reduction on cloned VM images against restic, and fio with reduction on/off (bench/dedup.py)
#   make fuzz   afl-fuzz every protocol decoder target for FUZZ_SECONDS each (default 600); FUZZ_TARGETS="a b" to pick
#   make fuzz-smoke  the bounded run make test does (FUZZ_SMOKE_SECONDS per target, default 20)

DOTNET ?= dotnet
CONFIGURATION ?= Release
OUT := out

.PHONY: all build run test deps unit integration bench clean

all: build

build:
	@echo "building $(OUT)/appliance ($(CONFIGURATION)): restore, compile each project, publish; this takes a few minutes"
	$(DOTNET) publish src/Host/Host.csproj -c $(CONFIGURATION) -o $(OUT) --nologo -v minimal -clp:NoSummary -p:UseAppHost=true
	@echo "built $(OUT)/appliance"

run: build
	./$(OUT)/appliance run

deps:
	tests/setup/install-deps.sh

test: deps build
	tests/run-tests.sh

# Only the tests that need no external client or appliance process.
unit:
	tests/run-tests.sh --unit

bench:
	QUICK=$(QUICK) bench/bench.sh

clean:
	rm -rf $(OUT) TestResults
	$(DOTNET) clean StorageAppliance.sln -v quiet --nologo

# Data reduction: cloned Debian images through iSCSI against restic, fio with dedup on and off; QUICK=1 for a smoke run.
.PHONY: bench-dedup
bench-dedup:
	QUICK=$(QUICK) python3 bench/dedup.py

# Coverage-guided fuzzing of the protocol decoders (tests/Fuzz/README.md). make test runs the bounded
# smoke run as NUnit tests (tests/Fuzz/AflSmokeTests.cs); these targets run it, or a long run, directly.
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS ?=
.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: deps
	$(DOTNET) build tests/Fuzz/Fuzz.csproj -c Debug --nologo -v quiet

fuzz: fuzz-build
	tests/Fuzz/fuzz.sh --seconds $(FUZZ_SECONDS) --keep-queue $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	tests/Fuzz/fuzz.sh --seconds $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)
