#!/usr/bin/env bash
# schemathesis against the running binary's /api/spec.json (issue 11, proof): starts a wa-sim
# and `wagate serve` from the built binary, creates a user when the API can, and runs
# schemathesis with the admin token, the user's token and the API key. Checks: no server error
# but the documented ones (hooks.py), status codes, content types and bodies as the document
# says. Usage: .ci/schemathesis/run.sh [path/to/wagate] [max examples per operation]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${1:-target/debug/wagate}"
EXAMPLES="${2:-${SCHEMATHESIS_EXAMPLES:-30}}"
ADMIN="schemathesis-admin-token-0123456789"
USER_TOKEN="schemathesis-user-token-0123456789"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits (30 s at most) for a line starting with $2 in file $1 and prints its rest.
line_after() {
  for _ in $(seq 300); do
    if grep -q "^$2" "$1" 2>/dev/null; then
      grep -m1 "^$2" "$1" | sed "s|^$2||"
      return 0
    fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  return 1
}

"$BIN" sim --listen 127.0.0.1:0 >"$WORK/sim.out" 2>"$WORK/sim.log" &
PIDS+=($!)
SIM_URL="$(line_after "$WORK/sim.out" "wa-sim listening on ")"
ROOT="$(line_after "$WORK/sim.out" "root public key: ")"

WAGATE_ADMIN_TOKEN="$ADMIN" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/wa_sessions" \
  --wa-url "$SIM_URL" --trust-root "$ROOT" >"$WORK/serve.out" 2>"$WORK/serve.log" &
PIDS+=($!)
BASE="$(line_after "$WORK/serve.out" "wagate listening on ")"

curl -sf -X POST "$BASE/admin/users" -H "Authorization: $ADMIN" \
  -H 'Content-Type: application/json' \
  -d "{\"name\":\"schemathesis\",\"token\":\"$USER_TOKEN\"}" >/dev/null

status=0
# The two flushes end every session, this run's user included (it would then see only 401s);
# crates/wagate/tests/wwebjs_routes.rs covers them.
HOOKS="$PWD/.ci/schemathesis/hooks.py"
# Run from the scratch directory: schemathesis keeps a cache in ./.schemathesis.
cd "$WORK"
SCHEMATHESIS_HOOKS="$HOOKS" python3 -m schemathesis.cli run "$BASE/api/spec.json" \
  --checks no_undocumented_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-checks not_a_server_error \
  -H "Authorization: $ADMIN" -H "token: $USER_TOKEN" -H "x-api-key: $ADMIN" \
  --exclude-path /session/terminateAll --exclude-path /session/terminateInactive \
  --max-examples "$EXAMPLES" --seed 1 --workers 2 --request-timeout 30 \
  --generation-database none --no-color 2>&1 | tee "$WORK/report.txt" || status=$?
# One plain closing line for CI: test cases generated less those that failed, and the failures.
cases="$(grep -A1 '^Test cases:' "$WORK/report.txt" | tail -1)"
generated="$(echo "$cases" | grep -o '[0-9]* generated' | grep -o '[0-9]*' || echo 0)"
failed="$(echo "$cases" | grep -o '[0-9]* unique failure' | grep -o '[0-9]*' || echo 0)"
passed=$(( ${generated:-0} - ${failed:-0} ))
if [ "$status" -ne 0 ]; then
  echo "schemathesis failed; the gateway's log:" >&2
  tail -50 "$WORK/serve.log" >&2
fi
echo "schemathesis: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
