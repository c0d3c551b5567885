#!/bin/sh
# Prints the device ACL lines for the bulk connection of each device
# certificate given: its user is the certificate's subject in RFC 2253 form
# (what Mosquitto's use_subject_as_username takes, e.g. "CN=dev-0001"), allowed
# to write that device's media/chunk and media/part and nothing else.
# Append the output to the device ACL (acl.template) and reload Mosquitto.
#
# usage: bulk-acl.sh DEVICE_CERT.crt...
set -eu

[ $# -ge 1 ] || { echo "usage: $0 DEVICE_CERT.crt..." >&2; exit 2; }
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl is not installed (apt-get install -y openssl)" >&2; exit 1; }

for cert in "$@"; do
  subject=$(openssl x509 -in "$cert" -noout -subject -nameopt RFC2253) || { echo "$0: cannot read certificate $cert" >&2; exit 1; }
  subject=${subject#subject=}
  # The CN as RFC 2253 prints it; a deviceId needs no escaping, anything else is refused below.
  cn=$(printf '%s\n' "$subject" | tr ',' '\n' | sed -n 's/^CN=//p' | head -n 1)
  if ! printf '%s' "$cn" | grep -Eq '^[A-Za-z0-9_-]{1,64}$'; then
    echo "$0: $cert: CN \"$cn\" is not a deviceId (1-64 of [A-Za-z0-9_-]); is this a device certificate?" >&2; exit 2
  fi
  printf '\n# bulk connection of %s\nuser %s\ntopic write nrec/v1/%s/media/chunk\ntopic write nrec/v1/%s/media/part\n' "$cn" "$subject" "$cn" "$cn"
done
