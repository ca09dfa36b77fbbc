#!/bin/sh
# bare_test.sh - the README's promise on a really bare system: a minimal Debian 12 tree
# (debootstrap --variant=minbase) given only what a fresh developer machine has (git, make,
# gcc), where the repository is cloned and `make demo` runs; `make deps` (tools/deps.sh) must
# install the rest by itself. Also: as a user who is neither root nor a sudoer, `make deps`
# fails with a message naming the packages.
#   sudo sh tests/bare_test.sh [REPO]      (REPO defaults to this checkout; its HEAD is cloned)
# Needs root, debootstrap and the network to the Debian mirror (the first of
# /etc/apt/sources.list*, else deb.debian.org). Prints the time of each step; exit 0 when
# `make demo` succeeded in the tree. BARE_HEAVY=CMD runs the make demo step under CMD.
set -eu
REPO=$(cd "${1:-$(dirname "$0")/..}" && pwd)
[ "$(id -u)" = 0 ] || { echo "bare_test: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null 2>&1 || { echo "bare_test: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

# the mirror the host uses, so that a proxy or snapshot setup carries over
MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -Eo 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ')
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/mille_bare.XXXXXX")
chmod 755 "$ROOT" # mktemp's 0700 would keep the unprivileged user below out
cleanup() {
    umount "$ROOT/proc" 2>/dev/null || true
    # never remove a tree with something still mounted in it
    if grep -q " $ROOT/" /proc/mounts; then
        echo "bare_test: $ROOT still has mounts, left in place" >&2
    else
        rm -rf "$ROOT"
    fi
}
trap cleanup EXIT INT TERM

t0=$(date +%s)
step() { echo "bare_test: [$(($(date +%s) - t0)) s] $*" >&2; }

step "debootstrap --variant=minbase bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 ||
    { tail -20 "$ROOT.log" >&2; rm -f "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"
mount -t proc proc "$ROOT/proc"
# a fresh developer machine: git, make, gcc (and the resolver config to reach the mirror)
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
step "installing git make gcc"
chroot "$ROOT" sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends git make gcc ca-certificates >/dev/null'
step "cloning $REPO"
git clone -q --no-hardlinks "$REPO" "$ROOT/root/mille"
chmod -R a+rX "$ROOT/root" # the unprivileged check below reads it

step "make deps as an unprivileged user without sudo (must fail, naming the packages)"
if chroot --userspec=65534:65534 "$ROOT" sh -c 'cd /root/mille && HOME=/tmp make deps' \
    >"$ROOT/tmp/deps.out" 2>&1; then
    echo "bare_test: make deps succeeded without root" >&2
    exit 1
fi
grep -q 'libjansson-dev' "$ROOT/tmp/deps.out" || {
    echo "bare_test: make deps did not name the packages:" >&2
    cat "$ROOT/tmp/deps.out" >&2
    exit 1
}

step "make demo (installs the packages it needs, builds, parses, trains)"
# BARE_HEAVY: a prefix for this, the one step that takes minutes of CPU (e.g. a flock on a
# shared machine); the steps before it are mostly downloads
${BARE_HEAVY:-} chroot "$ROOT" sh -c 'date +%s >/tmp/demo.t0; cd /root/mille && make -j2 demo' \
    >"$ROOT/tmp/demo.out" 2>&1 || {
    tail -40 "$ROOT/tmp/demo.out" >&2
    echo "bare_test: make demo failed in the bare tree" >&2
    exit 1
}
grep -q 'deps: installing' "$ROOT/tmp/demo.out" || {
    echo "bare_test: make demo did not install the packages" >&2
    exit 1
}
grep -Eq 'alarm_set' "$ROOT/tmp/demo.out" || {
    tail -20 "$ROOT/tmp/demo.out" >&2
    echo "bare_test: make demo printed no parse" >&2
    exit 1
}
# once installed, nothing is missing: make demo and make test then run no apt-get
[ -z "$(chroot "$ROOT" sh -c 'cd /root/mille && sh tools/deps.sh --missing')" ] || {
    echo "bare_test: packages still missing after make demo" >&2
    exit 1
}
grep -E '^deps: |exact' "$ROOT/tmp/demo.out" | cut -c1-160 >&2
step "make demo succeeded on a bare Debian 12 tree; it took $(($(date +%s) - $(cat "$ROOT/tmp/demo.t0"))) s"
