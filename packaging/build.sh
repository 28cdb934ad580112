#!/usr/bin/env bash
# Builds the Debian package and the RPM of check_backup in one command:
#
#   packaging/build.sh            # both, into target/packages/
#   packaging/build.sh deb        # only the .deb
#   packaging/build.sh rpm        # only the .rpm
#
# Needs cargo-deb and cargo-generate-rpm, installed with `cargo install --locked --debug` at
# the versions below when missing or different. --debug halves their compile time (on 2
# cores, cargo-generate-rpm: ~110 CPU-s instead of ~230, it pulls in a whole OpenPGP
# stack); packaging our 3 MB payload then takes 1-4 s instead of 1 s.
# Steps: release build of the plugin; man pages and shell completions (check_backup,
# backup-report and backup-drill) generated from the
# clap definitions (cargo example gen-docs, not installed by the packages); cargo deb;
# cargo generate-rpm. The paths of the packaged files are in Cargo.toml
# ([package.metadata.deb], [package.metadata.generate-rpm]).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# ISA-L (libisal-dev) and a C compiler, as for demo.sh and test.sh.
source scripts/build-deps.sh

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1

what=${1:-all}
case $what in all|deb|rpm) ;; *) echo "usage: $0 [all|deb|rpm]" >&2; exit 64 ;; esac

# Cargo.toml names its assets under target/: keep the default target directory.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR
ASSETS=$ROOT/target/assets
OUT=$ROOT/target/packages

note() { printf '==> %s\n' "$*"; }

ensure_tool() {   # SUBCOMMAND CRATE VERSION
    local have
    have=$(cargo "$1" --version 2>/dev/null | awk '{print $2}' || true)
    if [[ $have != "$3" ]]; then
        note "installing $2 $3 (cargo install --locked --debug; found: ${have:-none})"
        local t0=$SECONDS
        cargo install --locked --debug "$2" --version "$3"
        note "$2 installed in $((SECONDS - t0))s"
    fi
}
[[ $what == rpm ]] || ensure_tool deb cargo-deb "$CARGO_DEB_VERSION"
[[ $what == deb ]] || ensure_tool generate-rpm cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION"

note "release build (the plugin, and the gen-docs example that writes its man page and completions)"
cargo build --release --locked --bin check_backup --bin backup-report --bin backup-drill --example gen-docs

note "man page and shell completions from the clap definitions"
rm -rf "$ASSETS"
target/release/examples/gen-docs "$ASSETS"
for page in check_backup backup-report backup-drill; do
    gzip -9 -n -c "$ASSETS/man/$page.1" >"$ASSETS/man/$page.1.gz"
done
# RPM systems keep plugins in /usr/lib64/nagios/plugins and NRPE's includes in /etc/nrpe.d.
mkdir -p "$ASSETS/rpm"
sed -e 's#/usr/lib/nagios/plugins/#/usr/lib64/nagios/plugins/#g' \
    -e 's#/etc/nagios/nrpe\.d/#/etc/nrpe.d/#g' \
    -e 's#Debian.s nrpe\.cfg#nrpe.cfg (include_dir=/etc/nrpe.d/)#' \
    -e 's#systemctl reload nagios-nrpe-server#systemctl reload nrpe#' \
    packaging/nrpe/check_backup.cfg >"$ASSETS/rpm/check_backup.cfg"
# cargo-deb strips the binary it packages; cargo-generate-rpm does not.
strip --strip-unneeded -o "$ASSETS/rpm/check_backup" target/release/check_backup
strip --strip-unneeded -o "$ASSETS/rpm/backup-report" target/release/backup-report
strip --strip-unneeded -o "$ASSETS/rpm/backup-drill" target/release/backup-drill

mkdir -p "$OUT"
if [[ $what != rpm ]]; then
    note "cargo deb"
    rm -f "$OUT"/check-backup_*.deb
    # --multiarch=none: the plugin must stay in /usr/lib/nagios/plugins (multiarch would
    # move usr/lib/* assets to usr/lib/<triplet>/).
    cargo deb --no-build --multiarch=none --output "$OUT"
fi
if [[ $what != deb ]]; then
    note "cargo generate-rpm"
    rm -f "$OUT"/check-backup-*.rpm
    cargo generate-rpm --output "$OUT"
fi
note "packages:"
ls -l "$OUT"
