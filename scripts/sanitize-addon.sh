#!/usr/bin/env bash
# Builds the ICMP socket addon (native/icmp-socket: its ICMP sockets, its TCP connects and its probe sockets) with
# AddressSanitizer and UndefinedBehaviorSanitizer into a build directory of its own (native/icmp-socket/build-sanitize;
# the normal build is left as it is), then runs the addon's tests against that build, with the ASan runtime preloaded
# into Node. Fails on a failed test and on any sanitizer report, wherever it was printed. Needs root (raw sockets),
# gcc and its libasan (Debian: libasan8, with gcc).
#
#   scripts/sanitize-addon.sh              the addon's tests
#   scripts/sanitize-addon.sh test/x.ts    these test files instead
set -euo pipefail
cd "$(dirname "$0")/.."

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  # The addon alone, its sockets on loopback (sender thread included), the engine on it (a burst of ICMP errors
  # ending TCP connects), the stress with workers, and its neighbour table dumps of a namespace with entries in
  # every state (read in a child process, which inherits the sanitized build and the preload), its TCP connects
  # (tcp_connect.c: open, refused, unanswered, thousands at once, out of descriptors, every failure of their making,
  # a worker torn down mid-connect), and ping sockets, unprivileged in a namespace of their own (sweeps through the
  # sender thread and the event loop, the error queue's ICMP errors, IPv4 and IPv6: in child processes too), and
  # the probe sockets of trace and mtu without privilege (probe_socket.c: every argument, UDP errors on loopback,
  # ping sockets in a namespace, a worker's teardown), and the sender thread's batches (bursts with unroutable and
  # rejected echoes, a full buffer and a shortage mid-batch, raw and ping, both families: in child processes).
  tests=(test/engine/icmp-addon.test.ts test/engine/icmp-socket.test.ts test/engine/engine.test.ts test/engine/icmp-stress.test.ts
    test/engine/neighbours.test.ts test/engine/tcp-errqueue.test.ts test/engine/ping-socket.test.ts
    test/engine/probe-socket.test.ts test/engine/icmp-sender.test.ts)
fi

compiler="${CC:-gcc}"
asan="$("$compiler" -print-file-name=libasan.so)"
if [ ! -e "$asan" ]; then
  echo "sanitize-addon: $compiler has no libasan.so (Debian: apt-get install libasan8)" >&2
  exit 1
fi
# Node's headers: beside its executable (a Debian or NodeSource install, the official tarball), else node-gyp's copy.
headers="$(node -p "require('node:path').resolve(process.execPath, '../../include/node')")"
if [ ! -e "$headers/node_api.h" ]; then
  headers="${XDG_CACHE_HOME:-$HOME/.cache}/node-gyp/$(node -p process.versions.node)/include/node"
fi
if [ ! -e "$headers/node_api.h" ]; then
  echo "sanitize-addon: no node_api.h found for Node $(node -v) (looked beside node and in node-gyp's cache)" >&2
  exit 1
fi

out=native/icmp-socket/build-sanitize
mkdir -p "$out"
# The flags of binding.gyp, with the sanitizers, debug information and no recovery: the first report ends the process.
"$compiler" -shared -fPIC -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -Wno-unused-parameter -Werror \
  -DNAPI_VERSION=8 -DNODE_GYP_MODULE_NAME=icmp_socket -I"$headers" \
  -o "$out/icmp_socket.node" native/icmp-socket/src/icmp_socket.c native/icmp-socket/src/tcp_connect.c native/icmp-socket/src/probe_socket.c -lpthread -lm

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Node itself is not instrumented and keeps memory until exit by design: leak reports would be Node's, so leak
# detection is off (the tests count the addon's own sockets, threads, rings and references instead). Every other
# report aborts the process that made it and is printed to its stderr, which the tests show or check.
set +e
# Run from a test (npm test's test/engine/icmp-sanitized.test.ts), node --test would see that test's context and
# run nothing: this run is a test run of its own.
env -u NODE_TEST_CONTEXT \
  ZENSWEEP_ICMP_ADDON="$PWD/$out/icmp_socket.node" \
  LD_PRELOAD="$asan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:detect_stack_use_after_return=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  node --import tsx --test --test-concurrency=1 --test-reporter=spec "${tests[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$log"; then
  echo "sanitize-addon: a sanitizer report (above)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize-addon: the tests failed under the sanitizers (exit $status)" >&2
  exit "$status"
fi
passed="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)"
if [ -z "$passed" ] || [ "$passed" -eq 0 ] || ! grep -q '^ℹ fail 0$' "$log"; then
  echo "sanitize-addon: no test ran" >&2
  exit 1
fi
echo "sanitize-addon: ${#tests[@]} test files, $passed tests passed against the ASan + UBSan build, no sanitizer report"
