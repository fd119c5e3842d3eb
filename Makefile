# One task runner for people and CI. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the registry folder `make run` serves (`make run DIR=var/other`)
DIR    ?= var/registry

.PHONY: run test lint types pytest bench soak sanitize format clean geodata

# the C log splitter is compiled by the editable install, so a change to it installs again
$(STAMP): pyproject.toml setup.py src/detente/monitor/_split.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: set up and run the registry at http://127.0.0.1:8000 on SQLite, with the example record (Ctrl-C stops)
run: $(STAMP)
	$(BIN)/detente serve --dir $(DIR)

## test: lint, strict types, every test (warnings are errors), and the C splitter's tests under sanitizers
test: lint types pytest sanitize

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks setup.py
	$(BIN)/ruff format --check src tests benchmarks setup.py

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -W error

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks setup.py
	$(BIN)/ruff check --fix src tests benchmarks setup.py

## bench: benchmarks with their baselines, measured in one run (see docs/performance.md)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	command -v nginx >/dev/null && command -v wrk >/dev/null && command -v goaccess >/dev/null && \
		command -v valgrind >/dev/null || (apt-get update -q && apt-get install -y -q nginx wrk goaccess valgrind)
	$(BIN)/python -m benchmarks

## geodata: rebuild the monitor's attribution tables from Debian's tor-geoipdb and npm's @ip-location-db/asn
geodata: $(STAMP)
	test -d /usr/share/tor || (apt-get update -q && apt-get install -y -q tor-geoipdb)
	rm -rf var/asn && mkdir -p var/asn && cd var/asn && npm install --no-save @ip-location-db/asn
	$(BIN)/python -m detente.monitor.geodata build --asn-folder var/asn/node_modules/@ip-location-db/asn

## soak: long crash runs, outside make test (results in docs/performance.md)
soak: $(STAMP)
	DETENTE_CRASH_ROUNDS=$${ROUNDS:-400} $(BIN)/pytest -q tests/tlog/test_crash.py

## sanitize: the C log splitter's tests under AddressSanitizer and UBSan (built apart, in build/asan)
SANITIZED := ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 PYTHONPATH=build/asan \
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)"
sanitize: $(STAMP)
	rm -rf build/asan && mkdir -p build/asan && cp -r src/detente build/asan/ && rm -f build/asan/detente/monitor/*.so
	gcc -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -std=c11 -shared -fPIC \
		-I"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
		src/detente/monitor/_split.c \
		-o build/asan/detente/monitor/_split"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
	$(SANITIZED) $(BIN)/python -c 'import detente.monitor._split as s; assert "build/asan" in s.__file__, s.__file__'
	$(SANITIZED) $(BIN)/pytest -q -s -p no:xdist -W error tests/monitor/test_fast.py tests/monitor/test_parse.py tests/monitor/test_coded.py  # -s: a report reaches the terminal

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis build src/detente/monitor/*.so
