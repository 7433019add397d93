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

# The test stops the server itself, and timeout is the backstop for a hang.
# This shell stays process 1 of the PID namespace, so when it exits the
# kernel ends whatever the test left behind.
rc=0
timeout --kill-after=10 300 node "$web_dir/e2e/test.mjs" "$@" || rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	echo "e2e: the browser test timed out after 300 s" >&2
	echo "0 passed, 1 failed"
fi
exit "$rc"
