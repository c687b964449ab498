#!/usr/bin/env bash
# Installs what the tests need from Debian's packages: a real IMAP server (dovecot-imapd),
# mbsync for the benchmark's reference figures (isync), and a real headless browser
# (chromium). Already-installed packages are skipped, so a second run costs nothing.
set -euo pipefail
need=()
for p in dovecot-imapd isync chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packaged Dovecot from starting as a system service: tests run their own.
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
