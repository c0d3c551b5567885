#!/bin/sh
# Makes the PKI for an nrec broker with openssl: a CA (kept and reused when it
# already exists in OUT_DIR), a broker certificate and one client certificate
# per NAME (CN = NAME, which the broker uses as the MQTT username: a deviceId,
# or the ingest's name). Keys are written mode 0600 (give server.key to the
# user mosquitto runs as), certificates 0644.
#
# usage: gen-certs.sh OUT_DIR NAME...
# environment:
#   SERVER_CN   broker certificate CN               (default: localhost)
#   SERVER_SAN  broker subjectAltName               (default: IP:127.0.0.1,DNS:localhost)
#   DAYS        validity of issued certificates     (default: 825)
#   CA_DAYS     validity of a new CA                (default: 3650)
#   CA_CN       CN of a new CA                      (default: nrec-ca)
set -eu

usage() { echo "usage: $0 OUT_DIR NAME..." >&2; exit 2; }
[ $# -ge 1 ] || usage
OUT=$1; shift
SERVER_CN=${SERVER_CN:-localhost}
SERVER_SAN=${SERVER_SAN:-IP:127.0.0.1,DNS:localhost}
DAYS=${DAYS:-825}
CA_DAYS=${CA_DAYS:-3650}
CA_CN=${CA_CN:-nrec-ca}

command -v openssl >/dev/null 2>&1 || { echo "$0: openssl is not installed (apt-get install -y openssl)" >&2; exit 1; }
for n in "$@"; do
  case $n in
    ca|server) echo "$0: \"$n\" is reserved for the CA/broker files; pick another name" >&2; exit 2 ;;
  esac
  # Names become file names and MQTT usernames: no '/', '+', '#', spaces.
  if ! printf '%s' "$n" | grep -Eq '^[A-Za-z0-9_.-]{1,64}$'; then
    echo "$0: name \"$n\" is not usable: use 1-64 of [A-Za-z0-9_.-]" >&2; exit 2
  fi
done

# The directory stays traversable (certificates are public; keys are 0600) so the
# broker can reach its files after it drops root.
[ -d "$OUT" ] || (umask 022; mkdir -p "$OUT")
umask 077
cd "$OUT"

serial() { printf '0x%s' "$(openssl rand -hex 16)"; }

# issue NAME EXTENSIONS: key + CSR + certificate signed by the CA
issue() {
  name=$1; ext=$2
  printf '%b' "$ext" > "$name.ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
  chmod 0600 "$name.key"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "$(serial)" \
    -days "$DAYS" -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  chmod 0644 "$name.crt"
  rm -f "$name.csr" "$name.ext"
  echo "issued $OUT/$name.crt"
}

if [ ! -f ca.key ] || [ ! -f ca.crt ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.crt -days "$CA_DAYS" -sha256 -subj "/CN=$CA_CN" \
    -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
  chmod 0600 ca.key
  chmod 0644 ca.crt
  echo "created CA $OUT/ca.crt (keep ca.key offline)"
fi

if [ ! -f server.crt ]; then
  # issue names the files after its first argument; the broker's CN is SERVER_CN.
  printf '%b' "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=$SERVER_SAN\n" > server.ext
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout server.key -out server.csr -subj "/CN=$SERVER_CN" 2>/dev/null
  chmod 0600 server.key
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial "$(serial)" \
    -days "$DAYS" -sha256 -extfile server.ext -out server.crt 2>/dev/null
  chmod 0644 server.crt
  rm -f server.csr server.ext
  echo "issued $OUT/server.crt for $SERVER_SAN"
fi

for n in "$@"; do
  issue "$n" 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
done
