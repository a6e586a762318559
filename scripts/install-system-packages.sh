#!/usr/bin/env bash
# The system packages the test suite drives for real: a headless Chromium (the
# HTML report and the web UI are rendered in it), a PostgreSQL server (the SQL
# store's PostgreSQL tests), a Prometheus server (it scrapes `flowy monitor
# serve`), a Redis server (flowy-cache-redis's shared cache index), and Azurite,
# the Azure Storage emulator flowy-azure's tests start (from npm, into
# flowy-azure/.azurite). `nox -s tests` runs this first, so the README's test
# command works on a fresh Debian machine by itself; .ci/run calls that same command.
#
# Installs only what is missing. As root it uses apt-get; otherwise it says what
# to install and exits non-zero, because a test suite that silently skips the
# browser or the database would report less than it claims.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
azurite="$root/flowy-azure/.azurite"
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v npm >/dev/null 2>&1 || need+=(npm)  # Debian's npm brings Node.js (Azurite needs 18+)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "The tests need these system packages: ${need[*]}." >&2
    echo "Install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]}) and run again." >&2
    exit 1
  fi
  echo "system packages: installing ${need[*]} with apt-get (once; a minute or two)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  echo "system packages: installed ${need[*]}"
else
  echo "system packages: chromium, postgresql, prometheus, redis-server and npm present"
fi
if [ ! -x "$azurite/node_modules/.bin/azurite-blob" ]; then
  echo "azurite: installing azurite@3.37.0 from npm into flowy-azure/.azurite (once; about 30 s)"
  npm install --prefix "$azurite" --no-audit --no-fund --loglevel=error azurite@3.37.0 >/dev/null
  echo "azurite: installed"
fi
