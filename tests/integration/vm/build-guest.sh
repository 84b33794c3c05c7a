#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Build a tiny QEMU guest for tests/integration/test_vm_nbd_failover.sh:
#   - a Debian kernel (linux-image-cloud-amd64, else linux-image-amd64) and
#     busybox-static, fetched with `apt-get download` into a cache directory
#     (never into the repository) and unpacked with `dpkg-deb -x`;
#   - an initramfs (cpio newc, gzip) holding busybox, the virtio modules the
#     guest needs (virtio_pci, virtio_blk and the modules they depend on) and vm/guest-init.sh
#     as /init: it loads the modules and runs the disk workload.
#
#   build-guest.sh [CACHE_DIR]     (default ${XDG_CACHE_HOME:-/var/cache}/kura-vm)
#
# Prints "KERNEL=<path>" and "INITRD=<path>" on success. Exit 77 (with the
# reason on stderr) when the packages cannot be downloaded or unpacked, 1 on
# other errors. Re-running reuses the downloaded .debs; the initramfs is
# rebuilt when guest-init.sh is newer than it.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${1:-${KURA_VM_CACHE:-${XDG_CACHE_HOME:-/var/cache}/kura-vm}}
unavailable() { echo "build-guest: $*" >&2; exit 77; }
for c in apt-get apt-cache dpkg-deb gzip find; do
  command -v "$c" >/dev/null 2>&1 || unavailable "$c not installed"
done
mkdir -p "$CACHE/debs"
cd "$CACHE/debs"

# Resolve the meta package to the versioned kernel image package.
kpkg=""
for meta in linux-image-cloud-amd64 linux-image-amd64; do
  kpkg=$(apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
  [ -n "$kpkg" ] && break
done
[ -n "$kpkg" ] || unavailable "no linux-image-cloud-amd64 / linux-image-amd64 in the apt lists (run apt-get update)"

fetch() {  # fetch PKG: the .deb of PKG in the cache (downloaded once)
  local p=$1 f
  f=$(ls "${p}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$f" ]; then
    apt-get download "$p" >&2 || unavailable "apt-get download $p failed (no mirror?)"
    f=$(ls "${p}"_*.deb 2>/dev/null | head -1 || true)
    [ -n "$f" ] || unavailable "apt-get download $p left no .deb"
  fi
  echo "$CACHE/debs/$f"
}
kdeb=$(fetch "$kpkg")
bdeb=$(fetch busybox-static)

KVER=${kpkg#linux-image-}
KDIR=$CACHE/kernel-$KVER
if [ ! -f "$KDIR/boot/vmlinuz-$KVER" ]; then
  tmp=$(mktemp -d "$CACHE/kernel.XXXXXX")
  dpkg-deb -x "$kdeb" "$tmp" || { rm -rf "$tmp"; unavailable "dpkg-deb -x $kdeb failed"; }
  rm -rf "$KDIR"; mv "$tmp" "$KDIR"
fi
BBDIR=$CACHE/busybox
if [ ! -x "$BBDIR/bin/busybox" ]; then
  tmp=$(mktemp -d "$CACHE/busybox.XXXXXX")
  dpkg-deb -x "$bdeb" "$tmp" || { rm -rf "$tmp"; unavailable "dpkg-deb -x $bdeb failed"; }
  rm -rf "$BBDIR"; mv "$tmp" "$BBDIR"
fi
CPIO=(cpio)                 # cpio(1), else the cpio applet of the downloaded busybox
command -v cpio >/dev/null 2>&1 || CPIO=("$BBDIR/bin/busybox" cpio)
KERNEL=$KDIR/boot/vmlinuz-$KVER
MODDIR=$KDIR/lib/modules/$KVER
[ -f "$KERNEL" ] || unavailable "no vmlinuz in $kdeb"
[ -d "$MODDIR/kernel" ] || unavailable "no modules in $kdeb"

INITRD=$CACHE/initrd-$KVER.gz
if [ ! -f "$INITRD" ] || [ "$HERE/guest-init.sh" -nt "$INITRD" ] || [ "${BASH_SOURCE[0]}" -nt "$INITRD" ]; then
  ROOT=$(mktemp -d "$CACHE/root.XXXXXX")
  trap 'rm -rf "$ROOT" "$ROOT.gz"' EXIT
  mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,lib/modules}
  cp "$BBDIR/bin/busybox" "$ROOT/bin/busybox"
  cp "$HERE/guest-init.sh" "$ROOT/init"; chmod 755 "$ROOT/init"
  # Modules in dependency order. The .deb ships no modules.dep (depmod makes
  # it at install time), so the dependencies are read from each module's own
  # .modinfo "depends=" string; a module built into the kernel is skipped.
  modcat() {  # modcat PATH: the module's bytes, decompressed
    case $1 in
      *.ko.xz) xz -dc "$1" ;; *.ko.zst) zstd -qdc "$1" ;; *.ko.gz) gzip -dc "$1" ;;
      *) cat "$1" ;;
    esac
  }
  order=()
  add_mod() {  # add_mod NAME: NAME's dependencies first, then NAME
    local name=${1//-/_} path deps d seen
    path=$(find "$MODDIR/kernel" -regextype posix-extended \
             -regex ".*/(${name}|${name//_/-})\\.ko(\\.[a-z]+)?" | head -1)
    if [ -z "$path" ]; then
      grep -qE "/(${name}|${name//_/-})\\.ko" "$MODDIR/modules.builtin" 2>/dev/null || \
        echo "build-guest: module $name neither built in nor a module" >&2
      return 0
    fi
    for seen in "${order[@]}"; do [ "$seen" = "$path" ] && return 0; done
    deps=$(modcat "$path" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -1)
    for d in ${deps//,/ }; do add_mod "$d"; done
    for seen in "${order[@]}"; do [ "$seen" = "$path" ] && return 0; done
    order+=("$path")
  }
  for m in virtio_pci virtio_blk; do add_mod "$m"; done
  : >"$ROOT/lib/modules/load.list"
  for p in "${order[@]}"; do
    base=${p##*/}; base=${base%.ko*}.ko
    modcat "$p" >"$ROOT/lib/modules/$base"
    echo "$base" >>"$ROOT/lib/modules/load.list"
  done
  (cd "$ROOT" && find . | LC_ALL=C sort | "${CPIO[@]}" -o -H newc 2>/dev/null | gzip -9) >"$ROOT.gz"
  mv "$ROOT.gz" "$INITRD"
  echo "build-guest: initramfs with modules: $(tr '\n' ' ' <"$ROOT/lib/modules/load.list")" >&2
fi
echo "KERNEL=$KERNEL"
echo "INITRD=$INITRD"
