#!/usr/bin/env bash
# The system packages the test suite drives for real: a headless Chromium (the
# HTML report is rendered in it), a PostgreSQL server (the SQL store's
# PostgreSQL tests) and a Prometheus server (it scrapes `flowy monitor serve`). `nox -s tests` runs this first, so the README's test command
# works on a fresh Debian machine by itself; .ci/run calls that same command.
#
# Installs only what is missing. As root it uses apt-get; otherwise it says what
# to install and exits non-zero, because a test suite that silently skips the
# browser or the database would report less than it claims.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
if [ "${#need[@]}" -eq 0 ]; then
  echo "system packages: chromium, postgresql and prometheus present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need these system packages: ${need[*]}." >&2
  echo "Install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]}) and run again." >&2
  exit 1
fi
echo "system packages: installing ${need[*]} with apt-get (once; a minute or two)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
echo "system packages: installed ${need[*]}"
