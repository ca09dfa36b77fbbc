#!/bin/sh
# deps.sh - the Debian packages that `make demo` and `make test` need, and `make deps`.
#   sh tools/deps.sh --missing   print the missing ones (nothing when all are there); fast:
#                                one `dpkg -s`, no apt; without dpkg, pkg-config is asked
#   sh tools/deps.sh             install the missing ones: apt-get as root, sudo otherwise;
#                                if neither can run, name the packages and exit 1
# The list is the part of .ci/run's apt-get lines the build and the tests need (mille-voice's
# among them: `make all` builds it and `make test` runs its tests; CI adds clang
# for the fuzzers, chromium for the browser test, debootstrap for tests/bare_test.sh); keep
# the two in step.
set -eu
PACKAGES="make gcc libc6-dev pkg-config python3 gzip libjansson-dev libutf8proc-dev libicu-dev
libarchive-dev zlib1g-dev libopenblas-dev libmicrohttpd-dev libyaml-dev
pocketsphinx pocketsphinx-en-us libpocketsphinx-dev libsphinxbase-dev libsndfile1-dev
libsqlite3-dev flite espeak-ng libhunspell-dev libcurl4-openssl-dev"
# the pkg-config names of the libraries, for systems without dpkg
PCNAMES="jansson libutf8proc icu-uc libarchive zlib openblas libmicrohttpd yaml-0.1
pocketsphinx sphinxbase sndfile sqlite3 hunspell libcurl"

missing() {
    if command -v dpkg >/dev/null 2>&1; then
        # dpkg -s on all at once is quick; only when it fails, find which
        # shellcheck disable=SC2086
        if dpkg -s $PACKAGES >/dev/null 2>&1; then return 0; fi
        for p in $PACKAGES; do
            dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || echo "$p"
        done
        return 0
    fi
    command -v pkg-config >/dev/null 2>&1 || { echo pkg-config; }
    for p in $PCNAMES; do
        pkg-config --exists "$p" 2>/dev/null || echo "$p"
    done
}

if [ "${1:-}" = "--missing" ]; then
    missing | tr '\n' ' ' | sed 's/ $//'
    exit 0
fi

need=$(missing | tr '\n' ' ' | sed 's/ $//')
if [ -z "$need" ]; then
    echo "deps: all packages present"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing: $need" >&2
    echo "deps: no apt-get here: install the equivalents of these Debian packages" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
elif command -v sudo >/dev/null 2>&1 && [ -t 0 ]; then
    SUDO="sudo" # asks for the password on the terminal
else
    echo "deps: missing packages: $need" >&2
    echo "deps: not root and no usable sudo; as root run:" >&2
    echo "  apt-get install --no-install-recommends $need" >&2
    exit 1
fi
echo "deps: installing $need" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $need; }; then
    echo "deps: apt-get failed; the packages needed are: $need" >&2
    exit 1
fi
