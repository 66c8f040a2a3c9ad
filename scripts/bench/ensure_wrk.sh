#!/bin/sh
# `make bench` drives HTTP load with wrk (SPEC §11 "How to measure"): install Debian's package
# when it is missing. Idempotent; needs root (or sudo) only when wrk is not there yet.
set -eu
command -v wrk >/dev/null 2>&1 && exit 0
echo "wrk is missing: installing Debian's package 'wrk'" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! $SUDO apt-get install -y -q wrk >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q wrk >/dev/null
fi
command -v wrk >/dev/null 2>&1 || { echo "could not install wrk: apt-get install -y wrk" >&2; exit 1; }
