#!/usr/bin/env bash
# Runs every test of check_backup: unit tests, integration tests over generated and real
# dumps, and the doc tests. This is the command README.md gives and .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/build-deps.sh
cargo test --locked --all-targets "$@"
cargo test --locked --doc "$@"
