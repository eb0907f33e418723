#!/usr/bin/env bash
# Debian packages the test suite uses: Chromium (dashboard tests), PostgreSQL (the store's migrations target
# it; a farm of hosts shares one), and the peer slicers whose G-code the job plan is proven on (PrusaSlicer,
# CuraEngine); Prometheus (promtool checks /metrics, its server scrapes it). Installed only when missing,
# only as root with apt-get.
set -u
want=(chromium chromium-driver prusa-slicer cura-engine postgresql prometheus)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: missing Debian packages ${missing[*]} (run as root on Debian to install them); tests that need them fail" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || echo "warning: could not install ${missing[*]}" >&2
