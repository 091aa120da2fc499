#!/bin/bash
# Stage 2 of the guest: PID 1 on the host's root filesystem (9p, read-only,
# tmpfs overlay). Sets up the persistent memory, shares the work directory,
# runs the command with its output on virtio-serial ports, then powers off.
# Settings come from vm.env, written by run.sh for this run.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
R=/run/pmem-vm
# shellcheck source=/dev/null
. $R/vm.env
log() { echo "pmem-vm: [$(cut -d' ' -f1 /proc/uptime)] $*"; }

finish() { # rc
  echo "$1" > $R/rc.tmp && mv $R/rc.tmp $R/rc
  dmesg > $R/dmesg.log 2>/dev/null
  cd /
  for m in "${PMEM_CXL_DIR:-}" "${PMEM_VIRTIO_DIR:-}" "${PMEM_XFS_DIR:-}" "${PMEM_EXT4_DIR:-}" "$WORKDIR"; do [ -n "$m" ] && umount "$m" 2>/dev/null; done
  sync
  "$BUSYBOX" poweroff -f
  echo o > /proc/sysrq-trigger
  sleep 10
}
fail() { log "SETUP FAILED: $*"; echo "$*" > $R/setup-error; finish 125; }

trap 'fail "unexpected error in stage2.sh line $LINENO"' ERR
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p "/lib/modules/$KVER" && mount --bind "$MODDIR" "/lib/modules/$KVER"
echo pmem-vm > /proc/sys/kernel/hostname
"$BUSYBOX" ifconfig lo 127.0.0.1 up 2>/dev/null || true
[ -L /etc/mtab ] || ln -sf /proc/self/mounts /etc/mtab
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
echo 1 > /proc/sys/kernel/sysrq
export PATH=$R/bin:$PATH
trap - ERR
log "mounts done"

# ---- persistent memory: NFIT regions in guest-physical address order (= the
# order of the -device nvdimm arguments): ext4, xfs, devdax, then with
# --nvdimm-unarmed the unarmed one.
nfit_regions() {
  local r
  for r in /sys/bus/nd/devices/region*; do
    [ -e "$r/resource" ] || continue
    [ "$(region_provider "${r##*/}")" = ACPI.NFIT ] || continue
    printf '%d %s\n' "$(cat "$r/resource")" "${r##*/}"
  done | sort -n | awk '{print $2}'
}
region_provider() { cat "$(readlink -f "/sys/bus/nd/devices/$1/..")/provider" 2>/dev/null; }
region_nmem() { cut -d, -f1 "/sys/bus/nd/devices/$1/mapping0" 2>/dev/null; }
# The regions whose bus PROVIDER is the one given.
regions_of() { # provider
  local r
  for r in /sys/bus/nd/devices/region*; do
    [ -e "$r" ] && [ "$(region_provider "${r##*/}")" = "$1" ] && echo "${r##*/}"
  done
}
# The block device of REGION's raw (label-less) namespace, as pmemN.
raw_blockdev() { # region
  local b
  for b in /sys/bus/nd/devices/$1/namespace*/block/pmem*; do [ -e "$b" ] && echo "${b##*/}" && return 0; done
  return 1
}
# Polls COMMAND... every 0.1 s for up to 30 s: device probing after a modprobe
# or a new region is asynchronous, and slow on a busy host under TCG.
settle() {
  local i
  for i in $(seq 300); do "$@" && return 0; sleep 0.1; done
  return 1
}

# The first namespace device of REGION: FIELD is dev, blockdev or chardev.
ns_dev() { # region field
  ndctl list -r "$1" -N 2>/dev/null | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" | head -1
}

create_ns() { # region mode field
  local out
  out=$(ndctl create-namespace -r "$1" -m "$2" -a 2M 2>&1) || { log "ndctl create-namespace -r $1 -m $2: $out"; return 1; }
  printf '%s\n' "$out" | sed -n "s/.*\"$3\":\"\([^\"]*\)\".*/\1/p" | head -1
}

# ext4 with a 2 MiB stripe: large files then start on 2 MiB boundaries of the
# device, which PMD (2 MiB) faults on fsdax need.
mkfs_ext4() { mkfs.ext4 -q -F -b 4096 -E stride=512,stripe_width=512 "$1"; }

# Mounts ext4 on DEV at DIR with dax=always, after a mkfs on fresh images.
dax_ext4() { # dev dir
  if [ "$REUSE" != 1 ]; then mkfs_ext4 "$1" || fail "mkfs.ext4 $1 failed"; fi
  mkdir -p "$2"
  mount -o dax=always "$1" "$2" || fail "mount -o dax=always $1 $2 failed"
  chmod 1777 "$2"
}

# The drivers of the other kinds of memory load now, in the background, so
# that their devices probe while the NVDIMMs are set up.
KIND_MODS=()
[ "$VIRTIO" = 1 ] && KIND_MODS+=(virtio_pmem)
[ "$HMEM" = 1 ] && KIND_MODS+=(dax_hmem)
[ "$CXL" = 1 ] && KIND_MODS+=(cxl_acpi cxl_pci cxl_mem cxl_pmem)
MODPROBE_PID=''
if [ ${#KIND_MODS[@]} -gt 0 ]; then modprobe -a "${KIND_MODS[@]}" & MODPROBE_PID=$!; fi

# The unarmed NVDIMM (QEMU unarmed=on) is the one whose NFIT flags say
# not_armed; the kernel makes its region read-only. It is left without
# labels, so its region holds one raw namespace (a read-only /dev/pmemN).
UNARMED_REGION=none
if [ "$UNARMED" = 1 ]; then
  for r in $(nfit_regions); do
    m=$(region_nmem "$r")
    grep -qw not_armed "/sys/bus/nd/devices/$m/nfit/flags" 2>/dev/null && UNARMED_REGION=$r && PMEM_UNARMED_NMEM=$m
  done
  [ "$UNARMED_REGION" != none ] || fail "no NVDIMM has the not_armed flag: $(cat /sys/bus/nd/devices/nmem*/nfit/flags 2>/dev/null | tr '\n' ' ')"
fi
[ -n "$PERSISTENCE" ] && export PMEM_NVDIMM_PERSISTENCE=$PERSISTENCE

if [ "$PMEM_SETUP" = 1 ]; then
  mapfile -t REGIONS < <(nfit_regions | grep -vx "$UNARMED_REGION")
  [ ${#REGIONS[@]} = 3 ] || fail "expected 3 NVDIMM regions, found ${#REGIONS[@]}: $(ls /sys/bus/nd/devices | tr '\n' ' ')"
  if [ "$REUSE" = 1 ]; then
    # The images come from an earlier run: their namespace labels bring the
    # namespaces back; the filesystems are only mounted (journal replay).
    EXT4_BLK=$(ns_dev "${REGIONS[0]}" blockdev)
    XFS_BLK=$(ns_dev "${REGIONS[1]}" blockdev)
    DAX_CHR=$(ns_dev "${REGIONS[2]}" chardev)
    [ -n "$EXT4_BLK" ] && [ -n "$XFS_BLK" ] && [ -n "$DAX_CHR" ] ||
      fail "reused images hold no namespaces (ext4='$EXT4_BLK' xfs='$XFS_BLK' devdax='$DAX_CHR')"
    log "namespaces found on reused images"
  else
    # QEMU's label area starts blank: write fresh labels, as on new NVDIMMs
    # (on these three only: the unarmed one stays label-less).
    mapfile -t NMEMS < <(for r in "${REGIONS[@]}"; do region_nmem "$r"; done)
    { ndctl disable-region -b ACPI.NFIT all && ndctl init-labels -f "${NMEMS[@]}" &&
      ndctl enable-region -b ACPI.NFIT all; } > /dev/null || fail "ndctl init-labels failed"
    EXT4_BLK=$(create_ns "${REGIONS[0]}" fsdax blockdev) || fail "cannot create the ext4 namespace"
    XFS_BLK=$(create_ns "${REGIONS[1]}" fsdax blockdev) || fail "cannot create the xfs namespace"
    DAX_CHR=$(create_ns "${REGIONS[2]}" devdax chardev) || fail "cannot create the devdax namespace"
    log "namespaces created"
  fi
  export PMEM_EXT4_DEV=/dev/$EXT4_BLK PMEM_XFS_DEV=/dev/$XFS_BLK PMEM_DEVDAX=/dev/$DAX_CHR
  export PMEM_EXT4_DIR=/mnt/pmem-ext4 PMEM_XFS_DIR=/mnt/pmem-xfs
  mkdir -p "$PMEM_EXT4_DIR" "$PMEM_XFS_DIR"
  if [ "$REUSE" != 1 ]; then
    mkfs_ext4 "$PMEM_EXT4_DEV" || fail "mkfs.ext4 $PMEM_EXT4_DEV failed"
    mkfs.xfs -q -f -m reflink=0 -d su=2m,sw=1 "$PMEM_XFS_DEV" || fail "mkfs.xfs $PMEM_XFS_DEV failed"
  fi
  mount -o "$EXT4_OPTS" "$PMEM_EXT4_DEV" "$PMEM_EXT4_DIR" || fail "mount -o $EXT4_OPTS $PMEM_EXT4_DEV failed"
  mount -o "$XFS_OPTS" "$PMEM_XFS_DEV" "$PMEM_XFS_DIR" || fail "mount -o $XFS_OPTS $PMEM_XFS_DEV failed"
  chmod 1777 "$PMEM_EXT4_DIR" "$PMEM_XFS_DIR"
  export PMEM_EXT4_MOUNT_OPTS=$EXT4_OPTS PMEM_XFS_MOUNT_OPTS=$XFS_OPTS
  log "NVDIMM filesystems mounted"
fi
if [ "$UNARMED" = 1 ]; then
  b=$(settle raw_blockdev "$UNARMED_REGION") || fail "the unarmed NVDIMM's region $UNARMED_REGION has no block device"
  export PMEM_UNARMED_REGION=$UNARMED_REGION PMEM_UNARMED_NMEM PMEM_UNARMED_DEV=/dev/$b
fi
if [ "$LEGACY" = 1 ]; then
  for r in $(regions_of e820); do
    b=$(raw_blockdev "$r") && export PMEM_LEGACY_DEV=/dev/$b
  done
  [ -n "${PMEM_LEGACY_DEV:-}" ] || fail "no legacy (memmap=) pmem device appeared"
fi

if [ -n "$MODPROBE_PID" ]; then wait "$MODPROBE_PID" || fail "modprobe ${KIND_MODS[*]} failed"; fi

# ---- virtio-pmem: a label-less region on a bus of its own (provider
# virtio-pmem), one raw namespace; ext4 goes straight on its /dev/pmemN.
if [ "$VIRTIO" = 1 ]; then
  virtio_found() {
    local r b
    for r in $(regions_of virtio-pmem); do b=$(raw_blockdev "$r") && echo "$r $b" && return 0; done
    return 1
  }
  read -r PMEM_VIRTIO_REGION b < <(settle virtio_found) || fail "no virtio-pmem device appeared"
  export PMEM_VIRTIO_REGION PMEM_VIRTIO_DEV=/dev/$b
  if [ "$PMEM_SETUP" = 1 ]; then
    export PMEM_VIRTIO_DIR=/mnt/pmem-virtio
    dax_ext4 "$PMEM_VIRTIO_DEV" "$PMEM_VIRTIO_DIR"
  fi
  log "virtio-pmem ready"
fi

# ---- soft-reserved memory (memmap=...+0xefffffff): dax_hmem makes a devdax
# device of it under /sys/devices/platform/hmem.N, outside any nd region.
if [ "$HMEM" = 1 ]; then
  hmem_found() {
    local d
    for d in /sys/bus/dax/devices/dax*; do
      case "$(readlink -f "$d")" in */platform/hmem.*) [ -c "/dev/${d##*/}" ] && echo "${d##*/}" && return 0 ;; esac
    done
    return 1
  }
  d=$(settle hmem_found) || fail "dax_hmem made no devdax device: $(grep -i 'soft reserved' /proc/iomem)"
  export PMEM_HMEM_DEVDAX=/dev/$d
  log "hmem ready"
fi

# ---- CXL persistent memory: the kernel (6.1) finds the memory device but
# does not assemble a region at boot, so one is made at every boot. On
# reused images the namespace label in the device's label area, and the
# fsdax info block on the media, bring the same namespace back.
if [ "$CXL" = 1 ]; then
  cxl_dev() { # devtype: the first CXL device of that type
    local d
    for d in /sys/bus/cxl/devices/*; do
      [ "$(sed -n 's/^DEVTYPE=//p' "$d/uevent" 2>/dev/null)" = "$1" ] && echo "${d##*/}" && return 0
    done
    return 1
  }
  # Ready when the memory device, its endpoint decoder and the nvdimm
  # bridge (the way to an nd region) are there.
  settle cxl_dev cxl_decoder_endpoint > /dev/null && settle cxl_dev cxl_nvdimm_bridge > /dev/null &&
    PMEM_CXL_MEMDEV=$(settle cxl_dev cxl_memdev) || fail "no CXL memory device appeared: $(ls /sys/bus/cxl/devices 2>/dev/null | tr '\n' ' ')"
  export PMEM_CXL_MEMDEV
  log "CXL memory device found"
  if [ "$PMEM_SETUP" = 1 ]; then
    ROOT_DECODER=$(cxl_dev cxl_decoder_root) || fail "no CXL root decoder"
    out=$(cxl create-region -m -d "$ROOT_DECODER" -w 1 -t pmem "$PMEM_CXL_MEMDEV" 2>&1) || fail "cxl create-region failed: $out"
    PMEM_CXL_REGION=$(printf '%s\n' "$out" | sed -n 's/.*"region":"\(region[0-9]*\)".*/\1/p' | head -1)
    [ -n "$PMEM_CXL_REGION" ] || fail "cxl create-region named no region: $out"
    # Its nd region is the one at the same physical address.
    cxl_nd_region() {
      local r want
      want=$(( $(cat "/sys/bus/cxl/devices/$PMEM_CXL_REGION/resource") ))
      for r in $(regions_of CXL); do
        [ $(( $(cat "/sys/bus/nd/devices/$r/resource") )) = "$want" ] && echo "$r" && return 0
      done
      return 1
    }
    PMEM_CXL_ND_REGION=$(settle cxl_nd_region) || fail "CXL region $PMEM_CXL_REGION has no nd region"
    if [ "$REUSE" = 1 ]; then
      nd_blockdev() { ns_dev "$PMEM_CXL_ND_REGION" blockdev | grep .; }
      b=$(settle nd_blockdev) || fail "the reused CXL label area brought no namespace back: $(ndctl list -r "$PMEM_CXL_ND_REGION" -N 2>&1 | tr -d ' \n')"
    else
      b=$(create_ns "$PMEM_CXL_ND_REGION" fsdax blockdev) || fail "cannot create the CXL namespace"
    fi
    PMEM_CXL_NAMESPACE=$(ns_dev "$PMEM_CXL_ND_REGION" dev)
    export PMEM_CXL_REGION PMEM_CXL_ND_REGION PMEM_CXL_NAMESPACE PMEM_CXL_DEV=/dev/$b PMEM_CXL_DIR=/mnt/pmem-cxl
    dax_ext4 "$PMEM_CXL_DEV" "$PMEM_CXL_DIR"
  fi
  log "CXL ready"
fi
export PMEM_VM=1 PMEM_IMAGES_REUSED=$REUSE
env | grep -E '^PMEM_' | sort > $R/pmem.env
log "pmem ready: $(tr '\n' ' ' < $R/pmem.env)"

# ---- the work directory, read-write at the same path as on the host
mkdir -p "$WORKDIR"
mount -t 9p -o "trans=virtio,version=9p2000.L,cache=$WORK_CACHE,msize=262144" pmemvm_work "$WORKDIR" ||
  fail "cannot mount the work directory $WORKDIR (9p)"

# ---- output: virtio-serial ports named pmemvm.stdout / pmemvm.stderr
OUT=/dev/console ERRDEV=/dev/console
for p in /sys/class/virtio-ports/*; do
  case "$(cat "$p/name" 2>/dev/null)" in
    pmemvm.stdout) OUT=/dev/${p##*/} ;;
    pmemvm.stderr) ERRDEV=/dev/${p##*/} ;;
  esac
done

log "running the command"
cd "$WORKDIR" || fail "cannot cd to $WORKDIR"
# shellcheck disable=SC2046
env -i PATH="$PATH" HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb \
  "${PASS_ENV[@]}" $(cat $R/pmem.env) \
  /bin/bash $R/cmd.sh < /dev/null > "$OUT" 2> "$ERRDEV"
rc=$?
log "command exited with $rc"
finish $rc
