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
  for m in "${PMEM_XFS_DIR:-}" "${PMEM_EXT4_DIR:-}" "$WORKDIR"; do [ -n "$m" ] && umount "$m" 2>/dev/null; done
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

# ---- persistent memory: three NFIT regions, in guest-physical address order
# (= the order of the -device nvdimm arguments): ext4, xfs, devdax.
nfit_regions() {
  local r prov
  for r in /sys/bus/nd/devices/region*; do
    [ -e "$r/resource" ] || continue
    prov=$(cat "$(readlink -f "$r/..")/provider" 2>/dev/null)
    [ "$prov" = ACPI.NFIT ] || continue
    printf '%d %s\n' "$(cat "$r/resource")" "${r##*/}"
  done | sort -n | awk '{print $2}'
}

# The first namespace device of REGION: FIELD is blockdev or chardev.
ns_dev() { # region field
  ndctl list -r "$1" -N 2>/dev/null | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" | head -1
}

create_ns() { # region mode field
  local out
  out=$(ndctl create-namespace -r "$1" -m "$2" -a 2M 2>&1) || { log "ndctl create-namespace -r $1 -m $2: $out"; return 1; }
  printf '%s\n' "$out" | sed -n "s/.*\"$3\":\"\([^\"]*\)\".*/\1/p" | head -1
}

if [ "$PMEM_SETUP" = 1 ]; then
  mapfile -t REGIONS < <(nfit_regions)
  [ ${#REGIONS[@]} -ge 3 ] || fail "expected 3 NVDIMM regions, found ${#REGIONS[@]}: $(ls /sys/bus/nd/devices | tr '\n' ' ')"
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
    # QEMU's label area starts blank: write fresh labels, as on new NVDIMMs.
    { ndctl disable-region -b ACPI.NFIT all && ndctl init-labels -f -b ACPI.NFIT all &&
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
    # A 2 MiB stripe makes both allocate large files on 2 MiB boundaries of
    # the device, which PMD (2 MiB) faults on fsdax need.
    mkfs.ext4 -q -F -b 4096 -E stride=512,stripe_width=512 "$PMEM_EXT4_DEV" || fail "mkfs.ext4 $PMEM_EXT4_DEV failed"
    mkfs.xfs -q -f -m reflink=0 -d su=2m,sw=1 "$PMEM_XFS_DEV" || fail "mkfs.xfs $PMEM_XFS_DEV failed"
  fi
  mount -o "$EXT4_OPTS" "$PMEM_EXT4_DEV" "$PMEM_EXT4_DIR" || fail "mount -o $EXT4_OPTS $PMEM_EXT4_DEV failed"
  mount -o "$XFS_OPTS" "$PMEM_XFS_DEV" "$PMEM_XFS_DIR" || fail "mount -o $XFS_OPTS $PMEM_XFS_DEV failed"
  chmod 1777 "$PMEM_EXT4_DIR" "$PMEM_XFS_DIR"
  export PMEM_EXT4_MOUNT_OPTS=$EXT4_OPTS PMEM_XFS_MOUNT_OPTS=$XFS_OPTS
fi
if [ "$LEGACY" = 1 ]; then
  for r in /sys/bus/nd/devices/region*; do
    [ "$(cat "$(readlink -f "$r/..")/provider" 2>/dev/null)" = e820 ] || continue
    for b in "$r"/namespace*/block/pmem*; do [ -e "$b" ] && export PMEM_LEGACY_DEV=/dev/${b##*/}; done
  done
  [ -n "${PMEM_LEGACY_DEV:-}" ] || fail "no legacy (memmap=) pmem device appeared"
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
