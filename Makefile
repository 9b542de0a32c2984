# wirelab — one command for each job. Every target installs what it needs first.
#   make demo    set up, build, and run scenarios/persistent-vs-non-persistent.toml (the main demo, over a 20 ms link)
#   make test    set up, build, and run the whole test suite (what CI runs)
#   make bench   analyzer speed and memory beside tshark and tcpdump on a 1M-packet capture; report against analyze on it
#   make bench-servers   serve ws beside Node's ws and Python's websockets; serve http beside nginx
#   make fuzz    run the cargo-fuzz targets for FUZZ_SECONDS each

SHELL := /bin/bash
APT_PACKAGES := libpcap-dev tshark tcpdump nginx-light wrk curl python3 python3-pip build-essential pkg-config time chromium iperf3 nftables iproute2 util-linux nodejs
CARGO ?= cargo
BIN := $(or $(CARGO_TARGET_DIR),target)/release/wirelab
FUZZ_SECONDS ?= 60
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup deps pydeps benchdeps rust build demo test bench bench-servers fuzz clean

setup: deps pydeps rust

# System packages, installed only when one is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Python packages for the python3 on the PATH: websockets (an independent client in the tests), scapy.
pydeps:
	@python3 -c "import websockets" 2>/dev/null || python3 -m pip install -q websockets 2>/dev/null || \
	  python3 -m pip install -q --break-system-packages websockets
	@# scapy builds the tunnel/fragment fixtures (tests/fixtures/make-tunnel-fixtures.py).
	@python3 -c "import scapy" 2>/dev/null || python3 -m pip install -q scapy 2>/dev/null || \
	  python3 -m pip install -q --break-system-packages scapy

# Node's `ws` package (the reference server of bench/ws-echo.sh), in bench/node/node_modules.
# (Debian packages npm apart from nodejs; NodeSource's nodejs includes it.)
benchdeps: deps
	@command -v npm >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
	@[ -d bench/node/node_modules/ws ] || (cd bench/node && npm install --no-audit --no-fund --silent)

# The Rust toolchain (rustup), when cargo is not on the PATH yet.
rust:
	@command -v $(CARGO) >/dev/null 2>&1 || [ -x "$$HOME/.cargo/bin/cargo" ] || { \
	  echo "==> installing Rust with rustup"; \
	  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal; }

build: setup
	@PATH="$$HOME/.cargo/bin:$$PATH" $(CARGO) build --release --quiet
	@echo "==> built $(BIN)"

demo: build
	@echo; echo "==> wirelab run-scenario scenarios/persistent-vs-non-persistent.toml   (a 20 ms emulated link and a live capture: needs root)"
	@$(SUDO) $(BIN) run-scenario scenarios/persistent-vs-non-persistent.toml
	@echo; echo "Next: $(BIN) analyze <the capture above> --packets | less   ·   wirelab --help"

test: setup
	@PATH="$$HOME/.cargo/bin:$$PATH" $(CARGO) test --all-targets

bench: build
	@bash bench/analyze.sh
	@WIRELAB=$(BIN) bash bench/report.sh

bench-servers: setup benchdeps
	@PATH="$$HOME/.cargo/bin:$$PATH" $(CARGO) build --release --quiet --no-default-features
	@WIRELAB=$(BIN) bash bench/ws-echo.sh
	@WIRELAB=$(BIN) bash bench/http-server.sh

fuzz: setup
	@bash fuzz/run.sh $(FUZZ_SECONDS)

clean:
	@$(CARGO) clean
