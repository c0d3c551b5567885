#!/usr/bin/env bash
# Installs the system packages the tests need (the list: scripts/test-deps.json).
# Fast when everything is there. As root it installs with apt-get; otherwise
# through `sudo -n` (never a password prompt); otherwise it stops at once with
# the one command to run. NREC_TEST_DEPS=check only checks; NREC_TEST_DEPS_LIST
# names another list (the script's own test uses it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
list="${NREC_TEST_DEPS_LIST:-$here/test-deps.json}"

# "apt<TAB>provides..." per package, read with node (present wherever npm is).
mapfile -t rows < <(node -e '
  const { packages } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const p of packages) console.log([p.apt, ...p.provides].join("\t"));
' "$list")

present() {
  local p
  for p in "$@"; do
    if [[ "$p" == /* ]]; then
      compgen -G "$p" >/dev/null && return 0
    else
      command -v "$p" >/dev/null 2>&1 && return 0
    fi
  done
  return 1
}

missing=()
for row in "${rows[@]}"; do
  IFS=$'\t' read -r -a f <<<"$row"
  present "${f[@]:1}" || missing+=("${f[0]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "${NREC_TEST_DEPS:-install}" = check ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing system packages: ${missing[*]}; install them with: sudo $cmd" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "test-deps: missing system packages: ${missing[*]}; install them with: sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
echo "test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# shellcheck disable=SC2086
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive $cmd -qq >/dev/null
# A Debian install of mosquitto starts a system broker on 1883; the tests start their own on free ports.
