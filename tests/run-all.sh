#!/usr/bin/env bash
# Every test, on a fresh machine: installs and starts the real OpenStack services of
# ../shared/real-openstack (Keystone, Neutron, Nova with a fake driver, Cinder, Glance; about
# 2 minutes the first time, 40 s to start), runs `cargo test` with REAL_OS_OPENRC pointing at
# them (so the suites that compare stackform and its embedded cloud with real OpenStack run),
# and stops the services again, whatever happened.
#
#   tests/run-all.sh [cargo test arguments]
#
# REAL_OS_HARNESS   the harness folder (default: ../shared/real-openstack beside the repo)
# REAL_OS_HOME      where its virtualenv and runtime files go (default: target/real-openstack)
set -euo pipefail
cd "$(dirname "$0")/.."

harness=${REAL_OS_HARNESS:-../shared/real-openstack}
if [ ! -x "$harness/setup.sh" ]; then
  echo "error: the real OpenStack harness is not at $harness (set REAL_OS_HARNESS)" >&2
  exit 1
fi
harness=$(cd "$harness" && pwd)
export REAL_OS_HOME=${REAL_OS_HOME:-$PWD/target/real-openstack}
mkdir -p "$REAL_OS_HOME"

echo "== real OpenStack: setup (REAL_OS_HOME=$REAL_OS_HOME)"
if ! "$harness/setup.sh" >"$REAL_OS_HOME/setup.log" 2>&1; then
  tail -n 30 "$REAL_OS_HOME/setup.log" >&2
  echo "error: the real OpenStack services could not be set up; see $REAL_OS_HOME/setup.log" >&2
  exit 1
fi
trap 'echo "== real OpenStack: stop"; "$harness/stop.sh" >/dev/null 2>&1 || true' EXIT
echo "== real OpenStack: start"
if ! "$harness/start.sh" >"$REAL_OS_HOME/start.log" 2>&1; then
  tail -n 30 "$REAL_OS_HOME/start.log" >&2
  echo "error: the real OpenStack services did not start; logs in $REAL_OS_HOME/run/logs" >&2
  exit 1
fi
export REAL_OS_OPENRC="$REAL_OS_HOME/run/openrc"

# The differential test writes the differences it cannot explain here; printed last, so that
# the end of a long log says what differed.
export DIFFERENTIAL_UNEXPLAINED="$PWD/target/differential-unexplained.txt"
rm -f "$DIFFERENTIAL_UNEXPLAINED"
echo "== cargo test $*"
status=0
cargo test "$@" || status=$?
if [ "$status" -ne 0 ] && [ -s "$DIFFERENTIAL_UNEXPLAINED" ]; then
  echo "== differential: differences not in tests/it/differential/known_differences.rs"
  cat "$DIFFERENTIAL_UNEXPLAINED"
fi
exit "$status"
