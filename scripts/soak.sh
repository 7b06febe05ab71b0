#!/bin/sh
# soak.sh: the crash soak. A real "evote board serve" process runs
# under load from many concurrent casting clients and is killed with SIGKILL
# at a random moment, EVOTE_SOAK_KILLS times (default here 50), restarted on
# the same data directory each time. At the end every receipt ever returned
# must verify against the final checkpoint, every checkpoint ever seen must be
# consistent with it, every ballot in the log must be there once, and the
# closed, tallied record must pass "evote verify". See TestSoakKill in
# e2e/soak_test.go.
#
#   scripts/soak.sh                      # 50 kills
#   EVOTE_SOAK_KILLS=200 scripts/soak.sh # more
#
# Other knobs: EVOTE_SOAK_BALLOTS (fresh ballots per kill, default 150),
# EVOTE_SOAK_CONNS (casting clients, default 32), EVOTE_SOAK_MAX_DELAY (ms,
# default 400). Extra arguments go to "go test".
set -eu
cd "$(dirname "$0")/.."
EVOTE_SOAK_KILLS=${EVOTE_SOAK_KILLS:-50}
export EVOTE_SOAK_KILLS
exec go test ./e2e -run '^TestSoakKill$' -count=1 -v -timeout 30m "$@"
