#!/usr/bin/env bash
# Debian packages the test suite uses: Chromium (dashboard tests), PostgreSQL (the store's migrations target
# it; a farm of hosts shares one), the peer slicers whose G-code the job plan is proven on (PrusaSlicer,
# CuraEngine), Mosquitto's broker and clients (the MQTT publisher is proven against them), Prometheus (server and
# promtool), poppler-utils (pdftoppm renders the build reports' PDF in their test) and Node with npm when missing.
# Installed only when missing, only as root with apt-get. Then the npm packages of the tests' OPC UA client
# (node-opcua, tests/opcua_client) and the OPC UA NodeSets the service loads beside ../shared
# (scripts/opcua-nodesets: PADIM and IRDI) when they are not installed yet.
set -u
want=(chromium chromium-driver prusa-slicer cura-engine postgresql mosquitto mosquitto-clients prometheus poppler-utils)
command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "warning: missing Debian packages ${missing[*]} (run as root on Debian to install them); tests that need them fail" >&2
  else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || echo "warning: could not install ${missing[*]}" >&2
  fi
fi
client="$(dirname "$0")/../tests/opcua_client"
if [ ! -d "$client/node_modules" ]; then
  if command -v npm >/dev/null 2>&1; then
    npm ci --prefix "$client" --no-audit --no-fund --loglevel=error >/dev/null \
      || echo "warning: npm ci in $client failed; the OPC UA tests need node-opcua-client" >&2
  else
    echo "warning: npm not found; the OPC UA tests need Node 20, npm and npm ci --prefix $client" >&2
  fi
fi
nodesets="$(dirname "$0")/opcua-nodesets"
if [ ! -d "$nodesets/node_modules" ]; then
  if command -v npm >/dev/null 2>&1; then
    npm ci --prefix "$nodesets" --no-audit --no-fund --loglevel=error >/dev/null \
      || echo "warning: npm ci in $nodesets failed; OPC UA serves without Machinery/ProcessValues (PADIM, IRDI)" >&2
  else
    echo "warning: npm not found; OPC UA serves without Machinery/ProcessValues (npm ci --prefix $nodesets)" >&2
  fi
fi
exit 0
