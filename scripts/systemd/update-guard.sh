#!/bin/sh
# Runs "nrec update" from the release that is known to work: the previous one while a new release is under
# test (its own updater may be the broken part), the current one otherwise. Installed as /opt/nrec/update-guard.sh.
set -eu
opt=${NREC_OPT:-/opt/nrec}
state=${NREC_STATE:-/var/lib/nrec}/update/state.json
rel=current
if [ -e "$opt/previous/bin/nrec" ] && [ -f "$state" ] && grep -q '"phase": "testing"' "$state"; then rel=previous; fi
exec "$opt/$rel/bin/nrec" update "$@"
