#!/usr/bin/env bash
# Makes sure the Debian packages needed to build check_backup are installed: ISA-L (the
# fastest gzip decoder measured, BENCHMARKS.md) is linked from the system library.
# Sourced by demo.sh and test.sh, so that a fresh machine needs no other step.
need=()
dpkg -s libisal-dev >/dev/null 2>&1 || need+=(libisal-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing build dependencies: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "check_backup needs: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
