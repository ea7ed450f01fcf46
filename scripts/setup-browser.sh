#!/usr/bin/env bash
# Installs Debian's Chromium (and a font) for the dashboard's browser test, and prints the browser's path.
# Playwright drives this browser through `executable_path`; nothing is downloaded from Playwright's CDN.
# Idempotent: a second run only checks.
set -euo pipefail
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
done
if ! command -v apt-get >/dev/null; then
  echo "Chromium is required for the dashboard's browser test (Debian: apt-get install chromium)" >&2; exit 1
fi
packages=(chromium fonts-dejavu-core)
(apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null 2>&1) \
  || (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null)
echo /usr/bin/chromium
