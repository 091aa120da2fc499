#!/usr/bin/env bash
# run.sh: run a command inside a throw-away QEMU guest that has real (emulated)
# persistent memory: ACPI NFIT NVDIMMs as fsdax (ext4 and xfs, mounted with
# -o dax) and devdax (/dev/daxN.M); when asked, also a legacy memmap= pmem
# device and the other kinds of DAX memory: virtio-pmem, soft-reserved RAM as
# devdax (hmem), CXL persistent memory, NVDIMMs with another persistence
# domain, an unarmed (read-only) NVDIMM.
# The guest kernel is Debian's linux-image-amd64, unpacked into a cache (never
# installed); the guest's userspace is the host's own root filesystem, shared
# read-only over 9p with a tmpfs overlay, so the host's node, ndctl, xfs_io
# and compiled addons run unchanged in the guest.
#
# Usage: run.sh [OPTIONS] DIR [--] COMMAND [ARG...]
#
# DIR is shared read-write at the same absolute path and is COMMAND's working
# directory. COMMAND runs as root under bash with stdin from /dev/null; its
# stdout and stderr come back separately. One argument with shell syntax in it
# runs as a bash script line: run.sh . 'npm test && echo ok'.
#
# Options (environment variables in brackets):
#   --mem SIZE           guest RAM                                   [DAXKIT_VM_MEM, 2G]
#   --cpus N             guest vCPUs                                 [DAXKIT_VM_CPUS, nproc up to 4]
#   --ext4-size SIZE     ext4 pmem size, a multiple of 16M           [DAXKIT_VM_EXT4_SIZE, 1G]
#   --xfs-size SIZE      xfs pmem size                               [DAXKIT_VM_XFS_SIZE, 1G]
#   --devdax-size SIZE   devdax pmem size                            [DAXKIT_VM_DEVDAX_SIZE, 512M]
#   --dax MODE           mount both with dax=always|inode|never      [DAXKIT_VM_DAX, always]
#   --ext4-mount OPTS    ext4 mount options (overrides --dax)        [DAXKIT_VM_EXT4_MOUNT]
#   --xfs-mount OPTS     xfs mount options (overrides --dax)         [DAXKIT_VM_XFS_MOUNT]
#   --legacy SIZE        also a legacy memmap=SIZE!1G pmem device, taken from
#                        guest RAM at 1G (a multiple of 2M)         [DAXKIT_VM_LEGACY, off]
#
# Other kinds of DAX memory, each added only when asked (all can be combined):
#   --virtio-pmem SIZE   a virtio-pmem-pci device backed by a file (a multiple
#                        of 16M); ext4 on its /dev/pmemN, mounted dax=always
#                                                                   [DAXKIT_VM_VIRTIO_PMEM, off]
#   --hmem SIZE          guest RAM turned into soft-reserved memory (a multiple
#                        of 2M, placed at 1G, after --legacy; the kernel gets
#                        memmap=SIZE%ADDR-1+0xefffffff), which dax_hmem offers
#                        as a devdax device: volatile, no nd region [DAXKIT_VM_HMEM, off]
#   --cxl SIZE           a CXL type-3 persistent memory device (a multiple of
#                        256M) with a label area, behind a CXL host bridge with
#                        two root ports on a q35 machine; each boot makes its
#                        pmem region with cxl create-region, then an fsdax
#                        namespace (found again in the label area on reused
#                        images) with ext4 mounted dax=always       [DAXKIT_VM_CXL, off]
#   --nvdimm-persistence cpu|mem-ctrl
#                        the persistence capability QEMU's NFIT reports for the
#                        NVDIMMs: the regions' persistence_domain becomes
#                        cpu_cache or memory_controller (without it QEMU reports
#                        none: the regions have no persistence_domain file and
#                        ndctl says unknown)
#                                                                   [DAXKIT_VM_NVDIMM_PERSISTENCE]
#   --nvdimm-unarmed     a fourth, 64 MiB NVDIMM with unarmed=on: the kernel
#                        makes its region read-only; it gets no labels, so its
#                        one namespace is raw and its /dev/pmemN read-only
#                                                                   [DAXKIT_VM_NVDIMM_UNARMED=1]
#
#   --images DIR         keep the backing images (NVDIMMs, virtio-pmem, CXL
#                        memory and label area) in DIR; when those these
#                        options need are there already, boot on them as they
#                        are (no new labels or namespaces, no mkfs; CXL: only
#                        the region is made again): for power-failure tests.
#                        Images of kinds not asked for are left alone.
#                                                                   [DAXKIT_VM_IMAGES]
#   --keep               keep the run directory (console.log, dmesg.log,
#                        images) and print where it is              [DAXKIT_VM_KEEP=1]
#   --timeout SECONDS    kill the guest after this long (exit 124)  [DAXKIT_VM_TIMEOUT, 1800]
#   --env NAME           pass the host variable NAME into the guest (repeatable;
#                        CI is always passed)                       [DAXKIT_VM_PASS_ENV]
#   --accel tcg|kvm|auto QEMU accelerator; auto takes KVM only when kvm_intel
#                        or kvm_amd is loaded                       [DAXKIT_VM_ACCEL, auto]
#   --no-pmem-setup      leave the memory raw: no NVDIMM labels, no namespaces,
#                        no CXL region, no filesystems (drivers are loaded and
#                        the devices that exist are still named below)
#   --verbose            copy the guest console to stderr afterwards
#   -h, --help           this text
# Also: DAXKIT_VM_CACHE (kernel, initramfs, run directories; outside any git
# work tree) [/var/cache/daxkit-vm], DAXKIT_VM_KERNEL_DIR (an unpacked kernel
# to use instead of Debian's), DAXKIT_VM_REFRESH=1 (fetch the kernel again),
# DAXKIT_VM_NO_INSTALL=1 (never call apt-get), DAXKIT_VM_WORK_CACHE (9p cache
# mode of DIR: loose, or mmap for strict coherence) [loose].
#
# In the guest (the environment of COMMAND):
#   PMEM_EXT4_DIR=/mnt/pmem-ext4 PMEM_XFS_DIR=/mnt/pmem-xfs  the DAX mounts
#   PMEM_EXT4_DEV PMEM_XFS_DEV   their /dev/pmemN
#   PMEM_EXT4_MOUNT_OPTS PMEM_XFS_MOUNT_OPTS
#   PMEM_DEVDAX                  /dev/daxN.M on the third NVDIMM (2 MiB align)
#   PMEM_VM=1, PMEM_IMAGES_REUSED (1 on reused images, else 0)
#   with --legacy:      PMEM_LEGACY_DEV     the memmap= /dev/pmemN (raw)
#   with --virtio-pmem: PMEM_VIRTIO_DIR=/mnt/pmem-virtio, PMEM_VIRTIO_DEV (its
#                       /dev/pmemN), PMEM_VIRTIO_REGION (its nd regionN, on the
#                       bus whose provider is virtio-pmem)
#   with --hmem:        PMEM_HMEM_DEVDAX    /dev/daxN.M of dax_hmem
#   with --cxl:         PMEM_CXL_DIR=/mnt/pmem-cxl, PMEM_CXL_DEV (/dev/pmemN),
#                       PMEM_CXL_MEMDEV (memN on the cxl bus), PMEM_CXL_REGION
#                       (the cxl regionN), PMEM_CXL_ND_REGION (the nd regionN on
#                       it, bus provider CXL), PMEM_CXL_NAMESPACE (namespaceN.M)
#   with --nvdimm-persistence: PMEM_NVDIMM_PERSISTENCE (cpu or mem-ctrl)
#   with --nvdimm-unarmed: PMEM_UNARMED_NMEM (nmemN), PMEM_UNARMED_REGION
#                       (regionN, read_only 1), PMEM_UNARMED_DEV (its /dev/pmemN)
# With --no-pmem-setup the NFIT variables, PMEM_VIRTIO_DIR and all of the CXL
# ones but PMEM_CXL_MEMDEV are absent.
# On PATH: pmem-poison (inject a media error) and pmem-crash (cut the power).
#
# Exit status: COMMAND's; 0 after pmem-crash (or the code given to it);
# 124 on timeout; 125 when the VM could not start (the reason is printed in
# plain words with the tail of the guest console); 2 on a usage error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ME=daxkit-vm
# A message can hold what the user typed: its control characters (ESC, BEL,
# CR...) are written as \xNN, as daxkit's other output writes them, never raw.
say() {
  local m="$*" i c
  for ((i = 1; i < 32; i++)); do
    [ "$i" -eq 10 ] && continue
    printf -v c "\\x$(printf %02x "$i")"
    printf -v c "$c"
    m=${m//"$c"/\\x$(printf %02x "$i")}
  done
  m=${m//$'\x7f'/\\x7f}
  printf '[%s] %s\n' "$ME" "$m" >&2
}
die() { say "cannot start the VM: $*"; exit 125; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit "${1:-2}"; }

MEM=${DAXKIT_VM_MEM:-2G}
NCPU=$(nproc 2>/dev/null || echo 2); [ "$NCPU" -gt 4 ] && NCPU=4
CPUS=${DAXKIT_VM_CPUS:-$NCPU}
EXT4_SIZE=${DAXKIT_VM_EXT4_SIZE:-1G}
XFS_SIZE=${DAXKIT_VM_XFS_SIZE:-1G}
DEVDAX_SIZE=${DAXKIT_VM_DEVDAX_SIZE:-512M}
DAX=${DAXKIT_VM_DAX:-always}
EXT4_OPTS=${DAXKIT_VM_EXT4_MOUNT:-}
XFS_OPTS=${DAXKIT_VM_XFS_MOUNT:-}
LEGACY=${DAXKIT_VM_LEGACY:-0}
VIRTIO=${DAXKIT_VM_VIRTIO_PMEM:-0}
HMEM=${DAXKIT_VM_HMEM:-0}
CXL=${DAXKIT_VM_CXL:-0}
PERSISTENCE=${DAXKIT_VM_NVDIMM_PERSISTENCE:-}
UNARMED=${DAXKIT_VM_NVDIMM_UNARMED:-0}
IMAGES=${DAXKIT_VM_IMAGES:-}
KEEP=${DAXKIT_VM_KEEP:-0}
TIMEOUT=${DAXKIT_VM_TIMEOUT:-1800}
ACCEL=${DAXKIT_VM_ACCEL:-auto}
PASS=(CI ${DAXKIT_VM_PASS_ENV:-})
PMEM_SETUP=1
VERBOSE=0
CACHE=${DAXKIT_VM_CACHE:-/var/cache/daxkit-vm}
WORK_CACHE=${DAXKIT_VM_WORK_CACHE:-loose}

need() { [ $# -ge 2 ] && [ -n "$2" ] || { say "option $1 needs a value"; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --mem) need "$@"; MEM=$2; shift 2 ;;
    --cpus) need "$@"; CPUS=$2; shift 2 ;;
    --ext4-size) need "$@"; EXT4_SIZE=$2; shift 2 ;;
    --xfs-size) need "$@"; XFS_SIZE=$2; shift 2 ;;
    --devdax-size) need "$@"; DEVDAX_SIZE=$2; shift 2 ;;
    --dax) need "$@"; DAX=$2; shift 2 ;;
    --ext4-mount) need "$@"; EXT4_OPTS=$2; shift 2 ;;
    --xfs-mount) need "$@"; XFS_OPTS=$2; shift 2 ;;
    --legacy) need "$@"; LEGACY=$2; shift 2 ;;
    --virtio-pmem) need "$@"; VIRTIO=$2; shift 2 ;;
    --hmem) need "$@"; HMEM=$2; shift 2 ;;
    --cxl) need "$@"; CXL=$2; shift 2 ;;
    --nvdimm-persistence) need "$@"; PERSISTENCE=$2; shift 2 ;;
    --nvdimm-unarmed) UNARMED=1; shift ;;
    --images) need "$@"; IMAGES=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --timeout) need "$@"; TIMEOUT=$2; shift 2 ;;
    --env) need "$@"; PASS+=("$2"); shift 2 ;;
    --accel) need "$@"; ACCEL=$2; shift 2 ;;
    --no-pmem-setup) PMEM_SETUP=0; shift ;;
    --verbose) VERBOSE=1; shift ;;
    -h | --help) usage 0 ;;
    --) shift; break ;;
    -*) say "unknown option $1 (see --help)"; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { say "no directory given"; usage 2; }
HOSTDIR=$1; shift
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { say "no command given"; usage 2; }
case "$DAX" in always | inode | never) ;; *) say "--dax must be always, inode or never (got '$DAX')"; exit 2 ;; esac
[ -n "$EXT4_OPTS" ] || EXT4_OPTS=dax=$DAX
[ -n "$XFS_OPTS" ] || XFS_OPTS=dax=$DAX
case "$ACCEL" in tcg | kvm | auto) ;; *) say "--accel must be tcg, kvm or auto"; exit 2 ;; esac
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { say "--timeout must be a number of seconds"; exit 2; }
[ -d "$HOSTDIR" ] || { say "'$HOSTDIR' is not a directory"; exit 2; }
HOSTDIR=$(cd "$HOSTDIR" && pwd -P)
case "$HOSTDIR" in /|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*) say "refusing to share $HOSTDIR"; exit 2 ;; esac

# ---------------------------------------------------------------- sizes and kinds
# Sizes as QEMU and the kernel write them: 512M, 2g, 1GB.
# One number and an optional unit, nothing else: numfmt alone converts the
# first field of '1G<TAB>x' and passes the rest through.
is_size() { [[ ${1^^} =~ ^[0-9]+[KMGTPE]?B?$ ]]; }
bytes() { local v=${1^^}; is_size "$1" && numfmt --from=iec "${v%B}" 2>/dev/null || { say "not a size: $1"; exit 2; }; }
mib() { echo "$(($1 >> 20))M"; }
size_opt() { # OPTION VALUE MULTIPLE_MIB: the size in bytes, or a usage error
  local b v=${2^^}
  is_size "$2" && b=$(numfmt --from=iec "${v%B}" 2>/dev/null) || { say "$1 needs a size such as 256M (got '$2')"; exit 2; }
  [ "$b" -gt 0 ] && [ $((b % ($3 << 20))) = 0 ] || { say "$1 must be a positive multiple of $3M (got $2)"; exit 2; }
  echo "$b"
}
MEM_B=$(size_opt --mem "$MEM" 1) || exit 2
LEGACY_B=0 VIRTIO_B=0 HMEM_B=0 CXL_B=0
if [ "$LEGACY" != 0 ]; then LEGACY_B=$(size_opt --legacy "$LEGACY" 2) || exit 2; fi
if [ "$VIRTIO" != 0 ]; then VIRTIO_B=$(size_opt --virtio-pmem "$VIRTIO" 16) || exit 2; fi
if [ "$HMEM" != 0 ]; then HMEM_B=$(size_opt --hmem "$HMEM" 2) || exit 2; fi
# CXL HDM decoders map whole multiples of 256 MiB.
if [ "$CXL" != 0 ]; then CXL_B=$(size_opt --cxl "$CXL" 256) || exit 2; fi
case "$PERSISTENCE" in '' | cpu | mem-ctrl) ;; *) say "--nvdimm-persistence must be cpu or mem-ctrl (got '$PERSISTENCE')"; exit 2 ;; esac
case "$UNARMED" in 0 | 1) ;; *) say "DAXKIT_VM_NVDIMM_UNARMED must be 0 or 1"; exit 2 ;; esac
# CXL needs PCIe, so QEMU's q35 machine; everything else boots the pc machine
# as the default run always did.
MACHINE=pc
[ "$CXL_B" -gt 0 ] && MACHINE=q35
# --legacy and --hmem turn guest RAM from 1G up into other memory types, so
# they must end in the RAM below the 4G hole. QEMU splits RAM there at 3G
# (pc) or 2G (q35) once it is larger than 3.5G (pc) or 2.75G (q35); the BIOS
# keeps the top of that RAM for its tables.
if [ "$MACHINE" = q35 ]; then split=$((0xb0000000)) low_split=$((0x80000000)); else split=$((0xe0000000)) low_split=$((0xc0000000)); fi
LOWMEM=$MEM_B
[ "$MEM_B" -ge "$split" ] && LOWMEM=$low_split
CARVE_AT=$((1 << 30))
HMEM_AT=$((CARVE_AT + (LEGACY_B + 134217727) / 134217728 * 134217728))
CARVE_END=$((CARVE_AT + LEGACY_B))
[ "$HMEM_B" -gt 0 ] && CARVE_END=$((HMEM_AT + HMEM_B))
if [ "$CARVE_END" -gt "$CARVE_AT" ] && [ $((CARVE_END + 16777216)) -gt "$LOWMEM" ]; then
  need_b=$((CARVE_END + 16777216))
  what="--legacy and --hmem take guest RAM from 1024M to $(mib "$CARVE_END") (and 16M above it must stay RAM)"
  if [ "$need_b" -lt "$split" ]; then
    say "$what, but the guest's RAM below 4G ends at $(mib "$LOWMEM"): give --mem from $(mib "$need_b") up to $(mib $((split - 1048576))) (from --mem $(mib "$split") on, QEMU's $MACHINE machine keeps only $(mib "$low_split") below 4G)"
  else
    say "$what, but on QEMU's $MACHINE machine the guest has at most $(mib $((split - 1048576))) of RAM below 4G: make them smaller"
  fi
  exit 2
fi

# ---------------------------------------------------------------- can it run here?
[ "$(uname -s)" = Linux ] || die "this is not Linux"
[ "$(uname -m)" = x86_64 ] || die "the harness boots an x86-64 guest and needs an x86-64 host (this is $(uname -m))"
[ "$(id -u)" = 0 ] || die "it must run as root: it installs QEMU and the kernel with apt-get, creates NVDIMM images and the guest runs as root (try: sudo $0 ...)"
case "$CACHE" in /*) ;; *) die "DAXKIT_VM_CACHE must be an absolute path" ;; esac
if git -C "$CACHE" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
  { [ ! -e "$CACHE" ] && git -C "$(dirname "$CACHE")" rev-parse --is-inside-work-tree >/dev/null 2>&1; }; then
  die "the cache directory $CACHE is inside a git work tree; set DAXKIT_VM_CACHE to a place outside it"
fi
# The guest reads the kernel modules and busybox from the cache through the
# host's root, where it mounts its own tmpfs over these (guest/stage2.sh).
case "$(realpath -m "$CACHE")/" in
  /tmp/* | /var/tmp/* | /dev/shm/* | /run/*)
    die "the cache directory $CACHE is under /tmp, /var/tmp, /dev/shm or /run, which the guest covers with a tmpfs of its own; set DAXKIT_VM_CACHE to a place elsewhere (the default is /var/cache/daxkit-vm)" ;;
esac
mkdir -p "$CACHE/runs" || die "cannot create the cache directory $CACHE"
free_kib=$(df -Pk "$CACHE" | awk 'NR==2{print $4}')
[ "${free_kib:-0}" -ge $((1536 * 1024)) ] || die "not enough disk space: $CACHE has $((free_kib / 1024)) MiB free, 1.5 GiB is needed (kernel, initramfs, pmem images)"

# One setup (apt, downloads, initramfs) at a time per cache directory.
exec 9>"$CACHE/.setup.lock"
flock 9

# ---------------------------------------------------------------- host packages
declare -A NEED=(
  [qemu-system-x86_64]=qemu-system-x86 [ndctl]=ndctl [daxctl]=daxctl
  [mkfs.xfs]=xfsprogs [xfs_io]=xfsprogs [mkfs.ext4]=e2fsprogs [cpio]=cpio
  [depmod]=kmod [modprobe]=kmod [gzip]=gzip [dpkg-deb]=dpkg [findmnt]=util-linux
)
export PATH=$PATH:/usr/sbin:/sbin
APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 1 ] && return 0
  [ "${DAXKIT_VM_NO_INSTALL:-0}" = 1 ] && die "packages are missing and DAXKIT_VM_NO_INSTALL=1 forbids apt-get"
  command -v apt-get >/dev/null || die "apt-get not found: the harness takes QEMU and the kernel from Debian's archive (on other systems install qemu-system-x86, ndctl, daxctl, xfsprogs and cpio, and set DAXKIT_VM_KERNEL_DIR to an unpacked Debian kernel)"
  say "apt-get update"
  apt-get update -qq > "$CACHE/apt-update.log" 2>&1 || { tail -n 20 "$CACHE/apt-update.log" >&2; die "apt-get update failed (is Debian's archive reachable?)"; }
  APT_UPDATED=1
}
missing=()
for c in "${!NEED[@]}"; do command -v "$c" >/dev/null 2>&1 || missing+=("${NEED[$c]}"); done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  apt_update_once
  say "installing ${missing[*]} (first use)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" > "$CACHE/apt-install.log" 2>&1 ||
    { tail -n 30 "$CACHE/apt-install.log" >&2; die "apt-get install ${missing[*]} failed"; }
fi

# ---------------------------------------------------------------- kernel and busybox
# Downloaded with apt-get download and unpacked under the cache; /boot is
# never touched.
fetch_deb() { # package destdir
  local tmp
  tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq "$1" > /dev/null 2>&1) || { rm -rf "$tmp"; return 1; }
  rm -rf "$2.tmp" && mkdir -p "$2.tmp"
  dpkg-deb -x "$tmp"/*.deb "$2.tmp" || { rm -rf "$tmp" "$2.tmp"; return 1; }
  rm -rf "$tmp" "$2" && mv "$2.tmp" "$2"
}
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
if [ -n "${DAXKIT_VM_KERNEL_DIR:-}" ]; then
  KDIR=$DAXKIT_VM_KERNEL_DIR
else
  if [ "${DAXKIT_VM_REFRESH:-0}" = 1 ] || [ ! -e "$CACHE/kernel/current/boot" ]; then
    kpkg=$(kernel_pkg || true)
    if [ -z "$kpkg" ]; then apt_update_once; kpkg=$(kernel_pkg || true); fi
    [ -n "$kpkg" ] || die "no kernel package: apt-cache cannot resolve linux-image-amd64 (is this Debian, with its archive in sources.list?)"
    kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/{print $2}')
    kdest=$CACHE/kernel/${kpkg}_$kver
    if [ ! -d "$kdest/boot" ]; then
      say "downloading the guest kernel $kpkg $kver (first use, about 70 MB)"
      fetch_deb "$kpkg" "$kdest" || { apt_update_once; fetch_deb "$kpkg" "$kdest"; } || die "no kernel package: the download of $kpkg failed"
    fi
    mkdir -p "$CACHE/kernel"
    ln -sfn "$(basename "$kdest")" "$CACHE/kernel/current"
  fi
  KDIR=$CACHE/kernel/current
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
[ -n "$VMLINUZ" ] || die "no kernel package: there is no vmlinuz in $KDIR/boot"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$KDIR/lib/modules/$KVER
[ -d "$MODDIR" ] || die "no kernel package: no modules in $MODDIR"
[ -f "$MODDIR/modules.dep" ] || depmod -b "$KDIR" "$KVER"

BBDIR=$CACHE/busybox-static
if [ "${DAXKIT_VM_REFRESH:-0}" = 1 ] || [ ! -x "$BBDIR/bin/busybox" ]; then
  say "downloading busybox-static (first use)"
  fetch_deb busybox-static "$BBDIR" || { apt_update_once; fetch_deb busybox-static "$BBDIR"; } || die "the download of busybox-static failed"
fi
BUSYBOX=$BBDIR/bin/busybox

# ---------------------------------------------------------------- initramfs
# Rebuilt when the kernel or guest/init changes.
MODS="virtio_pci 9pnet_virtio 9p overlay virtio_console libnvdimm nfit nd_pmem nd_btt nd_e820 dax_pmem device_dax ext4 xfs"
INIT_SUM=$(cat "$HERE/guest/init" <(echo "$MODS") | md5sum | cut -c1-12)
INITRD=$CACHE/initrd-$KVER-$INIT_SUM.cpio.gz
if [ "${DAXKIT_VM_REFRESH:-0}" = 1 ] || [ ! -s "$INITRD" ]; then
  say "building the initramfs for $KVER"
  ird=$(mktemp -d "$CACHE/initrd.XXXXXX")
  mkdir -p "$ird"/{bin,modules,proc,sys,dev,newroot,lower,upper,run}
  cp "$BUSYBOX" "$ird/bin/busybox"
  : > "$ird/modules/order"
  for m in $MODS; do
    modprobe -C /dev/null -d "$KDIR" -S "$KVER" --show-depends "$m" || die "module $m is not in kernel $KVER"
  done | awk '$1=="insmod"{print $2}' | awk '!seen[$0]++' | while read -r f; do
    cp "$f" "$ird/modules/"
    b=${f##*/}
    echo "${b%.ko}" >> "$ird/modules/order"
  done
  install -m 755 "$HERE/guest/init" "$ird/init"
  (cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$ird"
fi
flock -u 9
exec 9>&-

# ---------------------------------------------------------------- this run
RUN=$(mktemp -d "$CACHE/runs/run.XXXXXX")
QPID='' OPID='' EPID=''
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
  [ -n "$OPID" ] && kill "$OPID" 2>/dev/null || true
  [ -n "$EPID" ] && kill "$EPID" 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then say "run directory kept: $RUN"; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RUN/bin"
install -m 755 "$HERE/guest/stage2.sh" "$RUN/stage2.sh"
install -m 755 "$HERE/guest/bin/"* "$RUN/bin/"
{
  echo '#!/bin/bash'
  if [ $# -eq 1 ] && [[ "$1" =~ [[:space:]\;\|\&\<\>\$\`] ]]; then
    printf '%s\n' "$1"
  else
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
  fi
} > "$RUN/cmd.sh"

# pmem backing files: each is the region size + 2 MiB, because QEMU puts the
# 128 KiB label area at the end and rounds it up to 2 MiB, and the next DIMM
# starts right after: this keeps every region 16 MiB aligned, as ndctl wants.
backing() {
  local b
  b=$(bytes "$1")
  [ $((b % 16777216)) = 0 ] && [ "$b" -gt 0 ] || { say "pmem sizes must be positive multiples of 16M (got $1)"; exit 2; }
  echo $((b / 1048576 + 2))M
}
EXT4_BACK=$(backing "$EXT4_SIZE")
XFS_BACK=$(backing "$XFS_SIZE")
DEVDAX_BACK=$(backing "$DEVDAX_SIZE")
UNARMED_BACK=$(backing 64M)
CXL_LSA=128K
# The backing files this run needs, NAME:SIZE; the three NVDIMMs always.
NEED_IMG=("pmem-ext4.img:$EXT4_BACK" "pmem-xfs.img:$XFS_BACK" "pmem-devdax.img:$DEVDAX_BACK")
[ "$UNARMED" = 1 ] && NEED_IMG+=("pmem-unarmed.img:$UNARMED_BACK")
[ "$VIRTIO_B" -gt 0 ] && NEED_IMG+=("virtio-pmem.img:$VIRTIO_B")
[ "$CXL_B" -gt 0 ] && NEED_IMG+=("cxl-pmem.img:$CXL_B" "cxl-lsa.img:$CXL_LSA")
REUSE=0
IMG=$RUN
if [ -n "$IMAGES" ]; then
  mkdir -p "$IMAGES" || die "cannot create the images directory $IMAGES"
  IMG=$(cd "$IMAGES" && pwd -P)
  have=() lack=()
  for pair in "${NEED_IMG[@]}"; do
    if [ -f "$IMG/${pair%%:*}" ]; then have+=("${pair%%:*}"); else lack+=("${pair%%:*}"); fi
  done
  if [ ${#lack[@]} = 0 ]; then
    REUSE=1
    for pair in "${NEED_IMG[@]}"; do
      f=${pair%%:*} want=$(bytes "${pair#*:}")
      [ "$(stat -c %s "$IMG/$f")" = "$want" ] || die "$IMG/$f is $(stat -c %s "$IMG/$f") bytes, but these sizes need $want: use the sizes of the run that made the images"
    done
    say "booting on the existing images in $IMG"
  elif [ ${#have[@]} != 0 ]; then
    die "$IMG holds ${have[*]} but not ${lack[*]}, which these options need: give the options of the run that made the images, or remove them to start afresh"
  fi
fi
if [ $REUSE = 0 ]; then
  for pair in "${NEED_IMG[@]}"; do truncate -s "${pair#*:}" "$IMG/${pair%%:*}"; done
fi
mkfifo "$RUN/stdout.fifo" "$RUN/stderr.fifo"

{
  printf 'WORKDIR=%q\nWORK_CACHE=%q\nKVER=%q\nMODDIR=%q\nBUSYBOX=%q\n' "$HOSTDIR" "$WORK_CACHE" "$KVER" "$MODDIR" "$BUSYBOX"
  printf 'EXT4_OPTS=%q\nXFS_OPTS=%q\nPMEM_SETUP=%q\nREUSE=%q\n' "$EXT4_OPTS" "$XFS_OPTS" "$PMEM_SETUP" "$REUSE"
  printf 'LEGACY=%q\nVIRTIO=%q\nHMEM=%q\nCXL=%q\n' "$([ "$LEGACY_B" -gt 0 ] && echo 1 || echo 0)" \
    "$([ "$VIRTIO_B" -gt 0 ] && echo 1 || echo 0)" "$([ "$HMEM_B" -gt 0 ] && echo 1 || echo 0)" "$([ "$CXL_B" -gt 0 ] && echo 1 || echo 0)"
  printf 'PERSISTENCE=%q\nUNARMED=%q\n' "$PERSISTENCE" "$UNARMED"
  printf 'PASS_ENV=(\n'
  for v in "${PASS[@]}"; do [ -n "${!v+x}" ] && printf '  %q\n' "$v=${!v}"; done
  printf ')\n'
} > "$RUN/vm.env"

# maxmem: RAM plus the memory devices (NVDIMMs, virtio-pmem), with room to
# align them; the CXL memory lives in its own fixed window.
total=$(($(bytes "$EXT4_BACK") + $(bytes "$XFS_BACK") + $(bytes "$DEVDAX_BACK") + VIRTIO_B))
[ "$UNARMED" = 1 ] && total=$((total + $(bytes "$UNARMED_BACK")))
MAXMEM=$((($(bytes "$MEM") + total) / 1048576 + 4096))M
# auto wants hardware-assisted KVM. PVM (module kvm_pvm: KVM without VT-x or
# AMD-V, inside cloud VMs) also offers /dev/kvm, but only a kernel built as a
# PVM guest runs natively there; Debian's kernel runs in KVM's instruction
# emulator at about a million instructions a second, some 600 times slower
# than TCG (it did not finish decompressing itself in 10 minutes), whatever
# the -cpu model. -cpu host on PVM even aborts: it cannot set MSR 0x10a.
if [ "$ACCEL" = auto ]; then
  ACCEL=tcg
  if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; fi
fi
if [ "$ACCEL" = kvm ]; then CPU=host ACCEL_OPT=kvm; else CPU=max ACCEL_OPT=tcg,thread=multi; fi
APPEND="console=ttyS0 panic=-1 oops=panic mitigations=off nokaslr"
# memmap= types: ! is legacy pmem (e820 type 12), %...-1+0xefffffff turns
# RAM (type 1) into soft-reserved memory (EFI specific-purpose).
[ "$LEGACY_B" -gt 0 ] && APPEND="$APPEND memmap=$((LEGACY_B >> 20))M!$((CARVE_AT >> 20))M"
[ "$HMEM_B" -gt 0 ] && APPEND="$APPEND memmap=$((HMEM_B >> 20))M%$((HMEM_AT >> 20))M-1+0xefffffff"
MACHINE_OPT=$MACHINE,nvdimm=on
[ "$CXL_B" -gt 0 ] && MACHINE_OPT=$MACHINE_OPT,cxl=on
[ -n "$PERSISTENCE" ] && MACHINE_OPT=$MACHINE_OPT,nvdimm-persistence=$PERSISTENCE

QEMU=(qemu-system-x86_64
  -machine "$MACHINE_OPT" -accel "$ACCEL_OPT" -cpu "$CPU" -smp "$CPUS"
  -m "$MEM,slots=4,maxmem=$MAXMEM"
  -nodefaults -no-user-config -display none -no-reboot
  -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND"
  -serial "file:$RUN/console.log"
  -object "memory-backend-file,id=pm0,share=on,mem-path=$IMG/pmem-ext4.img,size=$EXT4_BACK,align=2M"
  -device "nvdimm,memdev=pm0,id=nv0,label-size=128K"
  -object "memory-backend-file,id=pm1,share=on,mem-path=$IMG/pmem-xfs.img,size=$XFS_BACK,align=2M"
  -device "nvdimm,memdev=pm1,id=nv1,label-size=128K"
  -object "memory-backend-file,id=pm2,share=on,mem-path=$IMG/pmem-devdax.img,size=$DEVDAX_BACK,align=2M"
  -device "nvdimm,memdev=pm2,id=nv2,label-size=128K"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=${RUN//,/,,},mount_tag=pmemvm_run,security_model=none,multidevs=remap"
  -virtfs "local,path=${HOSTDIR//,/,,},mount_tag=pmemvm_work,security_model=none,multidevs=remap"
  -device virtio-serial-pci,id=vser0
  -chardev "file,id=gout,path=$RUN/stdout.fifo,append=on"
  -device virtserialport,bus=vser0.0,chardev=gout,name=pmemvm.stdout
  -chardev "file,id=gerr,path=$RUN/stderr.fifo,append=on"
  -device virtserialport,bus=vser0.0,chardev=gerr,name=pmemvm.stderr
)
KINDS=''
if [ "$UNARMED" = 1 ]; then
  # After the three others, so that theirs keep their addresses.
  QEMU+=(-object "memory-backend-file,id=pm3,share=on,mem-path=$IMG/pmem-unarmed.img,size=$UNARMED_BACK,align=2M"
    -device "nvdimm,memdev=pm3,id=nv3,label-size=128K,unarmed=on")
  KINDS="$KINDS, unarmed NVDIMM"
fi
if [ "$VIRTIO_B" -gt 0 ]; then
  QEMU+=(-object "memory-backend-file,id=vp0,share=on,mem-path=$IMG/virtio-pmem.img,size=$VIRTIO_B,align=2M"
    -device "virtio-pmem-pci,memdev=vp0,id=vpmem0")
  KINDS="$KINDS, virtio-pmem $VIRTIO"
fi
if [ "$CXL_B" -gt 0 ]; then
  # A host bridge (pxb-cxl) with TWO root ports, the type-3 device on the
  # first: with a single root port, what is written to the region reads
  # back different, without an error (QEMU 7.2, Linux 6.1; a host bridge
  # with one port may be left in HDM decoder passthrough, which this QEMU
  # does not route). The label area (LSA) keeps the namespace labels across
  # boots; the fixed memory window is where the kernel maps the region.
  fmw=$((CXL_B > (4 << 30) ? CXL_B : (4 << 30)))
  QEMU+=(-object "memory-backend-file,id=cxl-mem0,share=on,mem-path=$IMG/cxl-pmem.img,size=$CXL_B"
    -object "memory-backend-file,id=cxl-lsa0,share=on,mem-path=$IMG/cxl-lsa.img,size=$CXL_LSA"
    -device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.0
    -device cxl-rp,port=0,bus=cxl.0,id=cxl_rp0,chassis=0,slot=2
    -device cxl-rp,port=1,bus=cxl.0,id=cxl_rp1,chassis=0,slot=3
    -device cxl-type3,bus=cxl_rp0,memdev=cxl-mem0,lsa=cxl-lsa0,id=cxl-pmem0,sn=0xda0c0001
    -M "cxl-fmw.0.targets.0=cxl.0,cxl-fmw.0.size=$((fmw >> 20))M")
  KINDS="$KINDS, CXL pmem $CXL"
fi
[ "$HMEM_B" -gt 0 ] && KINDS="$KINDS, hmem $HMEM"
[ "$LEGACY_B" -gt 0 ] && KINDS="$KINDS, memmap= pmem $LEGACY"
[ -n "$PERSISTENCE" ] && KINDS="$KINDS, NFIT persistence $PERSISTENCE"

say "booting ($ACCEL, ${CPUS} vCPU, $MEM; pmem ext4 $EXT4_SIZE -o $EXT4_OPTS, xfs $XFS_SIZE -o $XFS_OPTS, devdax $DEVDAX_SIZE$KINDS${IMAGES:+; images in $IMG})"
cat "$RUN/stdout.fifo" & OPID=$!
cat "$RUN/stderr.fifo" >&2 & EPID=$!
T0=$(date +%s.%N)
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" < /dev/null > "$RUN/qemu.log" 2>&1 & QPID=$!
set +e
wait "$QPID"
qrc=$?
QPID=''
# A reader still blocked in open() (QEMU never opened its fifo) is harmless.
kill "$OPID" "$EPID" 2>/dev/null
wait "$OPID" "$EPID" 2>/dev/null
OPID='' EPID=''
set -e
el=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')

if [ "$VERBOSE" = 1 ]; then
  say "---- guest console ----"; cat "$RUN/console.log" >&2; say "---- end of console ----"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  say "TIMEOUT: the guest was killed after ${TIMEOUT}s; the last console lines:"
  tail -n 30 "$RUN/console.log" >&2
  exit 124
fi
if [ -f "$RUN/crashed" ]; then
  say "the guest was powered off hard by pmem-crash after ${el}s (no sync, no unmount)"
  exit "$(cat "$RUN/crashed")"
fi
if [ ! -f "$RUN/rc" ]; then
  say "cannot start the VM: QEMU exited with $qrc after ${el}s before the command ran. QEMU said:"
  tail -n 20 "$RUN/qemu.log" >&2
  say "the last console lines:"
  tail -n 40 "$RUN/console.log" >&2
  exit 125
fi
rc=$(cat "$RUN/rc")
if [ -f "$RUN/setup-error" ]; then
  say "cannot start the VM: the guest's pmem setup failed: $(cat "$RUN/setup-error")"
  grep -a 'pmem-vm' "$RUN/console.log" | tail -n 20 >&2
  exit 125
fi
say "the VM finished in ${el}s; the command exited with $rc"
exit "$rc"
