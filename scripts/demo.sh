#!/usr/bin/env bash
# The README's first command (make demo): migrates a QEMU Debian VM with
# systemd to a synthetic balenaOS against a local fake balena API, then
# checks the disk's bytes and boots the new OS. Nothing leaves this machine:
# the VM's only network peers are the fake API and VPN on 127.0.0.1.
#
# usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TAKEOVER_CACHE=${TAKEOVER_CACHE:-$HOME/.cache/takeover}
t0=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }
since() { echo "$(( $(date +%s) - $1 )) s"; }

step "1/4 host tools (apt-get only for what is missing)"
t=$(date +%s)
bash scripts/deps.sh
echo "    done in $(since "$t")"

step "2/4 old OS: Debian bookworm + systemd + cloud kernel on a raw disk (cached)"
t=$(date +%s)
dir=$(scripts/build-oldos.sh "$TAKEOVER_CACHE")
echo "    $dir ($(since "$t"))"

step "3/4 building takeover, the fake balena API and the synthetic image tool"
t=$(date +%s)
for cmd in takeover fakebalena mktestimage; do
  CGO_ENABLED=0 go build -trimpath -o /dev/null "./cmd/$cmd"
done
go test -tags e2e -c -o /dev/null ./e2e/
echo "    done in $(since "$t")"

step "4/4 migrating the VM: old OS -> takeover -> kexec -> stage2 -> flash -> verify -> new OS"
set +e
go test -tags e2e -v -count=1 -timeout 20m -run '^TestKexecHappyPath$' ./e2e/ 2>&1 |
  sed -u -E 's/^( +)[a-z_]+_test\.go:[0-9]+: /\1/'
rc=${PIPESTATUS[0]}
set -e

echo
if [ "$rc" -eq 0 ]; then
  echo "demo: PASS, total $(since "$t0")"
else
  echo "demo: FAIL (go test exit $rc), total $(since "$t0")"
fi
exit "$rc"
