#!/usr/bin/env bash
# Installs what the tests need from Debian's packages: a real IMAP server (dovecot-imapd),
# mbsync for the benchmark's reference figures (isync), and a real headless browser
# (chromium). Already-installed packages are skipped, so a second run costs nothing.
#
# Cyrus IMAP and Courier IMAP conflict with dovecot-imapd as packages, so they are not
# installed: their .deb files (and the libraries they need that a Dovecot machine lacks)
# are downloaded and unpacked into a private root under a cache directory, which the test
# harness (test/harness/cyrus.ts, test/harness/courier.ts) runs them from. A stamp file
# makes a second run return at once. The directory is $MAILFERRY_TEST_SERVERS, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/mailferry/test-servers (cache it in CI); as root
# /var/cache/mailferry/test-servers, since the servers' mail processes then run as another
# user, who cannot enter /root.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_update() { [ -n "$updated" ] || { $SUDO apt-get update -qq; updated=1; }; }

need=()
# libsasl2-modules: Cyrus checks passwords through SASL's sasldb plugin (no conflict, so installed).
for p in dovecot-imapd isync chromium libsasl2-modules libsasl2-modules-db; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt_update
  # policy-rc.d keeps the packaged Dovecot from starting as a system service: tests run their own.
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# --- Cyrus and Courier, unpacked into a private root -------------------------------------
if [ "$(id -u)" = 0 ]; then
  DEFAULT_CACHE=/var/cache/mailferry/test-servers
else
  DEFAULT_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mailferry/test-servers"
fi
CACHE="${MAILFERRY_TEST_SERVERS:-$DEFAULT_CACHE}"
ROOT="$CACHE/root"
# The servers, their own libraries (libcyrus*, libcourierauth*, courier-unicode), the
# libraries they link that a Dovecot machine has not got, and saslpasswd2 (sasl2-bin).
PKGS="cyrus-common cyrus-imapd courier-imap courier-base courier-authlib libcourier-unicode4"
PKGS="$PKGS libical3 libidn12 libltdl7 libpcre3 libxapian30 libzephyr4 libgamin0 gamin sasl2-bin"
STAMP="v2 $PKGS"
if [ -f "$ROOT/.mailferry-stamp" ] && [ "$(cat "$ROOT/.mailferry-stamp")" = "$STAMP" ]; then
  exit 0
fi
mkdir -p "$CACHE/debs"
rm -rf "$ROOT.tmp"
mkdir -p "$ROOT.tmp"
(
  cd "$CACHE/debs"
  # shellcheck disable=SC2086
  apt-get download $PKGS >/dev/null 2>&1 || { apt_update; apt-get download $PKGS >/dev/null; }
)
for p in $PKGS; do
  deb=$(ls -t "$CACHE/debs/${p}_"*.deb | head -1)
  dpkg -x "$deb" "$ROOT.tmp"
done
# Courier's login process asks its password check (authdaemond) over a Unix socket whose
# path is compiled into libcourierauth (/run/courier/authdaemon/socket or similar). The
# harness serves that protocol itself, one socket per instance: the path is rewritten to the
# relative "authdaemon.sock" (same length or shorter, NUL-padded), which resolves in the
# directory the harness starts couriertcpd in.
node -e '
const fs = require("fs"), path = require("path");
const root = process.argv[1];
const libs = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isFile() && /^libcourierauth\.so/.test(e.name)) libs.push(p);
  }
};
walk(root);
let patched = 0;
for (const f of libs) {
  const buf = fs.readFileSync(f);
  const s = buf.toString("latin1");
  const re = /\/(?:var\/)?run\/courier\/[A-Za-z]+\/socket\0/g;
  let m, changed = false;
  while ((m = re.exec(s))) {
    const rel = Buffer.from("authdaemon.sock");
    const at = m.index;
    buf.fill(0, at, at + m[0].length);
    rel.copy(buf, at);
    changed = true;
  }
  if (changed) { fs.writeFileSync(f, buf); patched++; }
}
if (!patched) {
  console.error("install-test-deps: no authdaemon socket path found in libcourierauth; Courier tests will skip");
}
' "$ROOT.tmp"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
echo "$STAMP" > "$ROOT/.mailferry-stamp"
echo "install-test-deps: Cyrus and Courier unpacked into $ROOT"
