#!/bin/sh
# The seed article's five Self Awareness exercises, run verbatim on the local pod emulator
# (podself run): no cluster, busybox commands on this machine's shell. About 20 seconds.
#
#   PYTHON=.venv/bin/python sh examples/seed/demo.sh
#
# Exercises 2, 3 and 5 read /etc/podinfo, /config and /etc/resources by absolute path; that
# needs a private mount namespace (Linux, root). Elsewhere podself run says so and the
# volumes live under $PODSELF_ROOT instead.
set -eu
PYTHON="${PYTHON:-python3}"
case "$PYTHON" in  # a relative path must survive the cd below
    */*) PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" ;;
esac
cd "$(dirname "$0")"
PODSELF_STATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/podself-demo.XXXXXX")"
export PODSELF_STATE_DIR
RUN=""
trap 'if [ -n "$RUN" ]; then kill -TERM "$RUN" 2>/dev/null || true; fi; rm -rf "$PODSELF_STATE_DIR"' EXIT INT TERM

podself() { "$PYTHON" -m podself "$@"; }
heading() { printf '\n===== %s =====\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

heading "Exercise 1: metadata through env vars (01-env-variables.yaml)"
show "podself run -f 01-env-variables.yaml --timeout 1"
podself run -f 01-env-variables.yaml --timeout 1 --grace 1

heading "Exercise 2: labels and annotations through a downwardAPI volume"
show "podself run -f 02-volume-metadata.yaml --timeout 1"
podself run -f 02-volume-metadata.yaml --timeout 1 --grace 1
echo  # the annotations file ends without a newline, as on a node

heading "Exercise 3: live label updates (kubectl label -> podself label)"
show "podself run -f 03-dynamic-update.yaml --sync-delay 1 &"
# Started without the shell function so that $! is podself itself, which the kill below
# stops together with its containers; --timeout is a safety net if this script is interrupted.
"$PYTHON" -m podself run -f 03-dynamic-update.yaml --sync-delay 1 --grace 1 --timeout 60 &
RUN=$!
sleep 2
echo  # the labels file ends without a newline
show "podself label pod dynamic-update-demo stage=beta --overwrite"
podself label pod dynamic-update-demo stage=beta --overwrite
sleep 5
echo
show "podself label pod dynamic-update-demo feature=new-api"
podself label pod dynamic-update-demo feature=new-api
sleep 4.5
echo
show "podself get pods"
podself get pods
kill -TERM "$RUN"
wait "$RUN" || true
RUN=""
echo

heading "Exercise 4: resource-aware sizing (512Mi / 500m)"
show "podself run -f 04-resource-aware.yaml"
podself run -f 04-resource-aware.yaml || echo "(exit $?: ./app is missing, as it is in busybox)"
heading "Exercise 4 again at 2Gi / 2000m"
BIG="$PODSELF_STATE_DIR/04-resource-aware-big.yaml"
sed -e 's/memory: "512Mi"/memory: "2Gi"/' -e 's/cpu: "500m"/cpu: "2000m"/' \
    04-resource-aware.yaml > "$BIG"
podself run -f "$BIG" || echo "(exit $?: ./app is missing, as it is in busybox)"

heading "Exercise 5: init container and sidecar read main-app's limits"
show "podself run -f 05-multi-container.yaml --timeout 2"
podself run -f 05-multi-container.yaml --timeout 2 --grace 1
