#!/bin/sh
# Installs nrec on a recorder (or into a directory with --root). Run as root. Idempotent.
#
#   install.sh [--root DIR] [--key RELEASE_KEY.pem] [--gps-uart] [--no-start] [BUNDLE.tar.gz | RELEASE_DIR]
#   install.sh --rollback [--root DIR]             switch back to the previous release
#   install.sh --uninstall [--purge] [--root DIR]  remove the software (--purge: also config, state and user)
#
# Without a bundle it installs the release it sits in (the directory above scripts/).
# Layout: /opt/nrec/releases/<version>, /opt/nrec/current and /opt/nrec/previous (symlinks switched
# atomically), /etc/nrec/config.json (from the sample, never overwritten), /var/lib/nrec (state, owned by
# the system user nrec), a udev rule for the GPS, the systemd units. See docs/recorder.md.
set -eu

ROOT=/
KEY=
MODE=install
PURGE=0
GPS_UART=0
START=1
SOURCE=

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --key) [ $# -ge 2 ] || die "--key needs a file"; KEY=$2; shift 2 ;;
    --gps-uart) GPS_UART=1; shift ;;
    --no-start) START=0; shift ;;
    --rollback) MODE=rollback; shift ;;
    --uninstall) MODE=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$SOURCE" ] || die "name one bundle"; SOURCE=$1; shift ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"
[ -d "$ROOT" ] || die "--root $ROOT is not a directory"
ROOT=$(cd "$ROOT" && pwd)
R=${ROOT%/}            # prefix for paths: empty for /
OPT=$R/opt/nrec
ETC=$R/etc/nrec
STATE=$R/var/lib/nrec
UNITS=$R/etc/systemd/system
LIVE=0                 # acting on the running system (not a directory)
[ "$ROOT" = / ] && [ -d /run/systemd/system ] && LIVE=1
RA=                    # --root argument for useradd/groupadd/usermod/systemctl
[ "$ROOT" = / ] || RA="--root $ROOT"

# The version a link points at (releases/<version>), or nothing.
linked() { [ -L "$1" ] && basename "$(readlink "$1")" || true; }

# Points link $1 at releases/$2 atomically: a new link beside it renamed over it.
point() { ln -sfn "releases/$2" "$1.tmp" && mv -T "$1.tmp" "$1"; }

restart_agent() {
  if [ "$LIVE" = 1 ]; then systemctl daemon-reload; systemctl restart nrec.service && say "nrec.service restarted"; fi
}

rollback() {
  cur=$(linked "$OPT/current"); prev=$(linked "$OPT/previous")
  [ -n "$prev" ] && [ -d "$OPT/releases/$prev" ] || die "no previous release to go back to (current: ${cur:-none})"
  point "$OPT/current" "$prev"
  [ -n "$cur" ] && point "$OPT/previous" "$cur"
  now=$(date +%s)000
  mkdir -p "$STATE/update"
  # Ends any update under test, so the updater does not switch again; the agent reports it to the platform.
  printf '{\n  "id": "manual-%s",\n  "phase": "rolled-back",\n  "release": "%s",\n  "previous": "%s",\n  "startedAt": %s,\n  "deadlineAt": %s,\n  "finishedAt": %s,\n  "reason": "rolled back by hand (install.sh --rollback)"\n}\n' \
    "$now" "$cur" "$prev" "$now" "$now" "$now" > "$STATE/update/state.json.tmp"
  chmod 0644 "$STATE/update/state.json.tmp"; mv -T "$STATE/update/state.json.tmp" "$STATE/update/state.json"
  say "current is $prev again (was $cur)"
  restart_agent
}

uninstall() {
  if [ "$LIVE" = 1 ]; then
    systemctl disable --now nrec.service nrec-update.path nrec-update.service 2>/dev/null || true
  elif command -v systemctl >/dev/null 2>&1 && [ -d "$UNITS" ]; then
    systemctl $RA disable nrec.service nrec-update.path nrec-update.service >/dev/null 2>&1 || true
  fi
  rm -f "$UNITS/nrec.service" "$UNITS/nrec-update.service" "$UNITS/nrec-update.path" \
        "$R/etc/udev/rules.d/99-nrec-gps.rules" "$R/usr/local/bin/nrec"
  rm -rf "$OPT"
  [ "$LIVE" = 1 ] && systemctl daemon-reload
  if [ "$PURGE" = 1 ]; then
    rm -rf "$ETC" "$STATE"
    if grep -q '^nrec:' "$R/etc/passwd" 2>/dev/null; then userdel $RA nrec 2>/dev/null || true; fi
    say "removed nrec, its configuration, its state (outbox, keys, evidence) and the user nrec"
  else
    say "removed nrec; kept $ETC and $STATE (use --purge to remove them too)"
  fi
}

# Checks a release tree: the signature over SHA256SUMS by the release key, every file's hash, no unlisted file.
verify_tree() {
  tree=$1 key=$2
  [ -f "$tree/SHA256SUMS" ] && [ -f "$tree/SHA256SUMS.sig" ] || die "$tree is not a signed bundle (SHA256SUMS or its .sig missing)"
  openssl pkeyutl -verify -pubin -inkey "$key" -rawin -in "$tree/SHA256SUMS" -sigfile "$tree/SHA256SUMS.sig" >/dev/null 2>&1 \
    || die "bundle signature does not match the release key $key: refusing it, nothing changed"
  (cd "$tree" && sha256sum --quiet --strict -c SHA256SUMS) >/dev/null 2>&1 || die "a bundle file does not match SHA256SUMS: refusing it, nothing changed"
  listed=$(sed 's/^[0-9a-f]*  //' "$tree/SHA256SUMS" | sort)
  present=$(cd "$tree" && find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.sig | sed 's|^\./||' | LC_ALL=C sort)
  [ "$(printf '%s\n' "$listed" | LC_ALL=C sort)" = "$present" ] || die "the bundle holds files its SHA256SUMS does not list: refusing it, nothing changed"
  [ -z "$(cd "$tree" && find . ! -type f ! -type d)" ] || die "the bundle holds links or special files: refusing it"
}

json_field() { sed -n "s/^ *\"$1\": *\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }

ensure_account() {
  [ -f "$R/etc/passwd" ] && [ -f "$R/etc/group" ] || die "$ROOT has no etc/passwd and etc/group: not a root filesystem"
  for g in dialout gpio video audio; do
    grep -q "^$g:" "$R/etc/group" || { groupadd $RA --system "$g"; say "created group $g"; }
  done
  if ! grep -q '^nrec:' "$R/etc/passwd"; then
    useradd $RA --system --user-group --no-create-home --home-dir /var/lib/nrec --shell /usr/sbin/nologin nrec 2>/dev/null \
      || useradd $RA --system --user-group --no-create-home --home-dir /var/lib/nrec --shell /usr/sbin/nologin nrec
    say "created system user nrec"
  fi
  usermod $RA -a -G dialout,gpio,video,audio nrec
  NREC_UID=$(awk -F: '$1=="nrec"{print $3}' "$R/etc/passwd")
  NREC_GID=$(awk -F: '$1=="nrec"{print $4}' "$R/etc/passwd")
}

install_release() {
  # Where the release comes from: a .tar.gz, a directory, or the release this script sits in.
  [ -n "$SOURCE" ] || SOURCE=$(cd "$(dirname "$0")/.." && pwd)
  mkdir -p "$OPT/releases"
  STAGING=
  trap '[ -n "$STAGING" ] && rm -rf "$STAGING"' EXIT
  if [ -f "$SOURCE" ]; then
    bad=$(tar -tvzf "$SOURCE" | awk '{ t = substr($1, 1, 1); if (t != "-" && t != "d") print }' | head -n 1)
    [ -z "$bad" ] || die "bundle holds a link or special file ($bad): refusing it"
    tar -tzf "$SOURCE" | grep -q -E '(^/|(^|/)\.\.(/|$))' && die "bundle holds unsafe paths: refusing it"
    STAGING=$(mktemp -d "$OPT/releases/.staging-XXXXXX")
    tar -xzf "$SOURCE" -C "$STAGING" --no-same-owner
    set -- "$STAGING"/*
    [ $# = 1 ] && [ -d "$1" ] || die "bundle must hold one top directory"
    TREE=$1
  elif [ -d "$SOURCE" ]; then
    TREE=$(cd "$SOURCE" && pwd)
  else
    die "bundle $SOURCE not found"
  fi
  [ -f "$TREE/MANIFEST.json" ] || die "$TREE has no MANIFEST.json: not an nrec bundle"
  if [ -z "$KEY" ]; then
    if [ -f "$ETC/release-key.pem" ]; then KEY=$ETC/release-key.pem
    else
      KEY=$TREE/release-key.pem
      say "first install: trusting the release key shipped in the bundle; compare its fingerprint with your release manager's:"
      say "  $(openssl pkey -pubin -in "$KEY" -outform DER 2>/dev/null | sha256sum | cut -c1-64)"
    fi
  fi
  verify_tree "$TREE" "$KEY"
  VERSION=$(json_field version "$TREE/MANIFEST.json")
  case "$VERSION" in ''|.*|*/*) die "MANIFEST.json has no usable version" ;; esac
  ARCH=$(json_field arch "$TREE/MANIFEST.json")
  say "release $VERSION ($ARCH) verified"

  ensure_account
  DEST=$OPT/releases/$VERSION
  if [ -d "$DEST" ] && cmp -s "$DEST/SHA256SUMS" "$TREE/SHA256SUMS"; then
    say "release $VERSION already installed"
  else
    rm -rf "$DEST.new"
    cp -a "$TREE" "$DEST.new"
    chown -R 0:0 "$DEST.new"
    chmod -R u+rwX,go+rX,go-w "$DEST.new"
    rm -rf "$DEST"
    mv -T "$DEST.new" "$DEST"
  fi
  cur=$(linked "$OPT/current")
  if [ "$cur" != "$VERSION" ]; then
    [ -n "$cur" ] && [ -d "$OPT/releases/$cur" ] && point "$OPT/previous" "$cur"
    point "$OPT/current" "$VERSION"
    say "current is $VERSION${cur:+ (previous: $cur)}"
  fi
  cp "$DEST/scripts/systemd/update-guard.sh" "$OPT/update-guard.sh.tmp" && chmod 0755 "$OPT/update-guard.sh.tmp" && mv -T "$OPT/update-guard.sh.tmp" "$OPT/update-guard.sh"

  # Configuration: the sample only where there is none; the release key only on first install.
  mkdir -p "$ETC/tls"; chmod 0755 "$ETC"
  if [ ! -f "$ETC/config.json" ]; then
    cp "$DEST/scripts/config/config.sample.json" "$ETC/config.json.tmp" && mv -T "$ETC/config.json.tmp" "$ETC/config.json"
    say "wrote $ETC/config.json from the sample: set deviceId and mqtt.url (docs/recorder.md)"
  fi
  chown "0:$NREC_GID" "$ETC/config.json"; chmod 0640 "$ETC/config.json"
  [ -f "$ETC/release-key.pem" ] || { cp "$KEY" "$ETC/release-key.pem"; chmod 0644 "$ETC/release-key.pem"; }

  # State: owned by nrec; private keys 0600 in a 0700 directory.
  mkdir -p "$STATE/keys" "$STATE/update"
  chown "$NREC_UID:$NREC_GID" "$STATE" "$STATE/keys" "$STATE/update"
  chmod 0750 "$STATE" "$STATE/update"; chmod 0700 "$STATE/keys"
  find "$STATE/keys" -type f \( -name '*.key' -o -name 'device-key.pem' \) -exec chmod 0600 {} +

  # The GPS gets a stable name; the units go where systemd looks.
  mkdir -p "$R/etc/udev/rules.d" "$UNITS" "$R/usr/local/bin"
  if [ "$GPS_UART" = 1 ]; then sed 's/^#UART //' "$DEST/scripts/udev/99-nrec-gps.rules"; else cat "$DEST/scripts/udev/99-nrec-gps.rules"; fi > "$R/etc/udev/rules.d/99-nrec-gps.rules"
  for u in nrec.service nrec-update.service nrec-update.path; do cp "$DEST/scripts/systemd/$u" "$UNITS/$u"; chmod 0644 "$UNITS/$u"; done
  ln -sfn /opt/nrec/current/bin/nrec "$R/usr/local/bin/nrec.tmp" && mv -T "$R/usr/local/bin/nrec.tmp" "$R/usr/local/bin/nrec"

  if [ "$LIVE" = 1 ]; then
    if command -v udevadm >/dev/null 2>&1; then udevadm control --reload-rules && udevadm trigger --subsystem-match=tty || true; fi
    systemctl daemon-reload
    systemctl enable nrec.service nrec-update.service >/dev/null 2>&1
    systemctl enable --now nrec-update.path >/dev/null 2>&1
    if grep -q '"CHANGE-ME"' "$ETC/config.json"; then
      say "not starting nrec.service yet: edit $ETC/config.json, run 'nrec provision' and 'nrec doctor', then: systemctl start nrec"
    elif [ "$START" = 1 ]; then
      systemctl restart nrec.service && say "nrec.service (re)started"
    fi
  elif command -v systemctl >/dev/null 2>&1; then
    systemctl $RA enable nrec.service nrec-update.service nrec-update.path >/dev/null 2>&1 || say "could not enable the units under $ROOT; enable them on the device"
  fi
  say "done: release $VERSION in $OPT/releases/$VERSION"
}

case "$MODE" in
  rollback) rollback ;;
  uninstall) uninstall ;;
  install) install_release ;;
esac
