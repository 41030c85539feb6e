#!/usr/bin/env bash
# Put the Dockerfile's base image in podman's store: the real one when it can be
# pulled; where it cannot (no route to the registry), a stand-in with the
# contents that matter to the build: Debian bookworm, its Python 3.11 with pip
# and headers, no compiler. The stand-in stays in podman's store, labelled, so a
# later run reuses it and still prefers the real image once it can be pulled.
set -euo pipefail
base=${1:?usage: base.sh IMAGE}
label=io.echoscope.stand-in

if podman image exists "$base"; then
  [ "$(podman image inspect --format "{{index .Labels \"$label\"}}" "$base")" = debootstrap ] || exit 0
  timeout 300 podman pull -q "$base" >/dev/null 2>&1 || true
  exit 0
fi
timeout 300 podman pull -q "$base" && exit 0

echo "base.sh: $base cannot be pulled here; making a stand-in with debootstrap" >&2
root=$(mktemp -d "${TMPDIR:-/var/tmp}/echoscope-base.XXXXXX")
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,python3.11-dev,ca-certificates \
  bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 ||
  { cat "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
for tool in python pip; do [ -e "$root/usr/bin/$tool" ] || ln -s "${tool}3" "$root/usr/bin/$tool"; done
# The official image's pip installs into its own Python; Debian's refuses without this.
rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED
# Trimmed as Debian's slim images are: no documentation, manuals or translations
# (and no static libpython, which only the -dev package for the headers brings).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/usr/lib/python3.11/config-*/libpython3.11*.a
tar -C "$root" -c . | podman import -q \
  --change "LABEL $label=debootstrap" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$base" >/dev/null
echo "base.sh: stand-in imported as $base" >&2
