#!/usr/bin/env bash
# Browser end-to-end test of Bedside. It builds the web app and the binary,
# then, inside a new network namespace that contains only loopback, starts
# `bedside serve` on 127.0.0.1 with an empty data directory and drives
# Debian's chromium through playwright-core (e2e/test.mjs). Screenshots and
# the server log go to clients/web/test-results/.
#
# Needs root (unshare -n), /usr/bin/chromium (or CHROMIUM=path) and npm.
# BEDSIDE_BIN=path tests a binary built elsewhere instead of building one.
# Exits non-zero on any failure; the last line is "N passed, N failed".
set -euo pipefail

web_dir=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$web_dir/../.." && pwd)
out="$web_dir/test-results"
chromium=${CHROMIUM:-/usr/bin/chromium}

fail() {
	echo "e2e: $*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root: the test needs unshare -n to create a loopback-only network namespace"
command -v unshare >/dev/null || fail "unshare not found: install util-linux"
command -v ip >/dev/null || fail "ip not found: install iproute2"
[ -x "$chromium" ] || fail "chromium not found at $chromium: apt-get install chromium, or set CHROMIUM"

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== e2e: building the web app and the binary"
cd "$web_dir"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent >"$out/vite-build.log" 2>&1 || { cat "$out/vite-build.log"; fail "npm run build failed"; }
bin=${BEDSIDE_BIN:-}
if [ -z "$bin" ]; then
	bin="$work/bedside"
	(cd "$repo" && go build -o "$bin" ./cmd/bedside) || fail "go build ./cmd/bedside failed"
fi

echo "== e2e: running in a loopback-only network namespace"
# --pid --fork makes netns.sh process 1 of a new PID namespace: when it
# exits, the kernel kills every process left in it (server, chromium), so
# nothing outlives the test even after a timeout.
BEDSIDE_BIN="$bin" BEDSIDE_DATA="$work/data" E2E_OUT="$out" CHROMIUM="$chromium" \
	unshare --net --pid --fork --mount-proc -- bash "$web_dir/e2e/netns.sh"
