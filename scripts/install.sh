#!/usr/bin/env bash
# Build rampart and its preload library in release mode and install both:
#   PREFIX/bin/rampart, PREFIX/lib/librampart_preload.so and the man page
#   PREFIX/share/man/man1/rampart.1
# PREFIX defaults to /usr/local as root, else ~/.local.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then default_prefix=/usr/local; else default_prefix="$HOME/.local"; fi
prefix="${PREFIX:-$default_prefix}"
cargo build --release --workspace --locked
install -d "$prefix/bin" "$prefix/lib"
install -m 0755 target/release/rampart "$prefix/bin/rampart"
install -m 0644 target/release/librampart_preload.so "$prefix/lib/librampart_preload.so"
install -d "$prefix/share/man/man1"
target/release/rampart man > "$prefix/share/man/man1/rampart.1.tmp"
mv "$prefix/share/man/man1/rampart.1.tmp" "$prefix/share/man/man1/rampart.1"
echo "installed $prefix/bin/rampart, $prefix/lib/librampart_preload.so and $prefix/share/man/man1/rampart.1"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH" ;;
esac
