#!/usr/bin/env bash
# Installs the system packages dcplane's build and test suite need on Debian:
# a C toolchain for the native socket addon, iproute2 for the network
# namespaces the end-to-end tests build, and the real DHCP clients they drive.
# Runs apt-get as root: directly when already root (CI), through sudo otherwise. Safe to run again.
set -euo pipefail
# kea-dhcp4-server: a reference server the client wrappers are checked against; kea-admin: perfdhcp;
# chromium: the browser the web UI tests (test/ui) drive through playwright-core.
# grub-common, pxelinux, syslinux-common: grub-script-check checks the per-host GRUB files, and real pxelinux
# (chained by the iPXE ROM in QEMU) reads its per-host file in test/e2e/inventory-boot-qemu.test.ts.
pkgs=(g++ make python3 iproute2 udhcpc isc-dhcp-client kea-dhcp4-server kea-admin tftp-hpa atftp curl qemu-system-x86 ipxe-qemu chromium grub-common pxelinux syslinux-common)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all system packages present (${pkgs[*]})"
  exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}; installing them needs root and sudo is not installed: run this script as root" >&2
    exit 1
  fi
  as_root=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
