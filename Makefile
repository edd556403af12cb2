# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, run the demo (simulator + server + console)
#   make test   create .venv with test extras, run lint, types, import contracts and all tests

# The first interpreter that really runs and is >= 3.11 (a pyenv shim may exist and fail).
PYTHON ?= $(shell for py in python3 python3.13 python3.12 python3.11; do \
	  $$py -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && \
	  { command -v $$py; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: demo test lint types imports pytest clean sysdeps

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "cctvctl needs Python >= 3.11 (python3 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(STAMP)

# Debian packages the tests use: tmux drives the real terminal test, ffmpeg's ffprobe is a
# third-party RTSP client and the benchmarks' yardstick, postgresql is the fleet store's
# engine (tests/pg_harness.py starts its own). Installed only when missing and when we are
# root (as on CI); elsewhere a note says what to install. A probe is a command on PATH or a
# path glob: Debian keeps the server's binaries under /usr/lib/postgresql/<version>/bin.
# GStreamer's RTSP server (H.265 + G.711 behind Basic auth) is the second RTSP server we did
# not write; iproute2's ip gives the Basic-auth refusal test its own network namespace. A
# probe's packages may be a comma-separated list.
SYSDEPS := tmux:tmux ffprobe:ffmpeg /usr/lib/postgresql/*/bin/initdb:postgresql ip:iproute2 \
  gst-inspect-1.0:gstreamer1.0-tools,gir1.2-gst-rtsp-server-1.0,gstreamer1.0-plugins-good,gstreamer1.0-plugins-bad,python3-gi
sysdeps:
	@missing=""; for pair in $(SYSDEPS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $$(echo $${pair#*:} | tr , ' ')"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: install$$missing (Debian packages) for the full test suite"; fi; fi

demo: $(STAMP)
	$(BIN)/cctvctl demo

lint: $(TSTAMP)
	$(BIN)/ruff check cctvctl tests benchmarks
	$(BIN)/ruff format --check cctvctl tests benchmarks

types: $(TSTAMP)
	$(BIN)/mypy cctvctl

imports: $(TSTAMP)
	$(BIN)/lint-imports

# The suite mostly waits on real cameras, servers and clocks (about 0.75 of a core over
# 3 workers), so three files at a time: 3 min instead of 8.5 on 2 cores. A module keeps
# its shared site on one worker (--dist loadfile); files start in collection order, the
# slowest first (tests/conftest.py, SLOW_FIRST), not xdist's most-tests-first.
pytest: $(TSTAMP) sysdeps
	$(BIN)/pytest -n 3 --dist loadfile --no-loadscope-reorder

test: lint types imports pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
