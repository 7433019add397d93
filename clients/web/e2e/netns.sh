#!/usr/bin/env bash
# Runs inside the network namespace that run.sh creates: brings up
# loopback, checks that nothing else is there and runs the browser test,
# which starts and stops its own bedside server.
set -euo pipefail

web_dir=$(cd "$(dirname "$0")/.." && pwd)

ip link set lo up
if ip -o link show | grep -v ': lo:' | grep -q .; then
	echo "e2e: the namespace has interfaces other than lo; refusing to run" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# The test stops the server itself; timeout is the backstop for a hang, and
# --kill-after makes sure nothing outlives it.
exec timeout --kill-after=10 300 node "$web_dir/e2e/test.mjs" "$@"
