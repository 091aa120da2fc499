import { spawn } from 'node:child_process';
import { UsageError } from '../errors';
import { didYouMean, type Command } from './args';
import { VM_FLAGS, VM_RUNNER, VM_VALUE_OPTIONS, vmBlocker } from '../vm/harness';

export const vm: Command = {
  summary: 'run a command in a throw-away VM with emulated persistent memory (fsdax ext4/xfs, devdax; CXL, virtio-pmem, hmem on request)',
  help: `Usage: daxkit vm [OPTIONS] [--] COMMAND [ARG...]

Boots Debian's kernel under QEMU with emulated NVDIMMs and runs COMMAND in it,
with the current directory shared read-write at the same path (so node and
this project's node_modules work there), ext4 and xfs mounted -o dax, a devdax
device, and the PMEM_* variables:
  PMEM_EXT4_DIR, PMEM_XFS_DIR   DAX-mounted filesystems (/mnt/pmem-ext4, /mnt/pmem-xfs)
  PMEM_EXT4_DEV, PMEM_XFS_DEV   their pmem block devices
  PMEM_EXT4_MOUNT_OPTS, PMEM_XFS_MOUNT_OPTS  their mount options
  PMEM_DEVDAX                   the devdax device (/dev/daxN.M, 2 MiB align)
  PMEM_VM=1                     and PMEM_IMAGES_REUSED=1 when booted on reused --images
and, for the other kinds of memory when asked for (see below):
  PMEM_LEGACY_DEV               the memmap= pmem block device (raw)
  PMEM_VIRTIO_DIR, PMEM_VIRTIO_DEV, PMEM_VIRTIO_REGION
                                ext4 -o dax on virtio-pmem (/mnt/pmem-virtio), its
                                /dev/pmemN and nd region (bus provider virtio-pmem)
  PMEM_HMEM_DEVDAX              the soft-reserved memory's devdax device (dax_hmem)
  PMEM_CXL_DIR, PMEM_CXL_DEV    ext4 -o dax on CXL pmem (/mnt/pmem-cxl), /dev/pmemN
  PMEM_CXL_MEMDEV, PMEM_CXL_REGION, PMEM_CXL_ND_REGION, PMEM_CXL_NAMESPACE
                                the CXL memdev (memN), cxl region, nd region, namespace
  PMEM_NVDIMM_PERSISTENCE       cpu or mem-ctrl, as given
  PMEM_UNARMED_REGION, PMEM_UNARMED_NMEM, PMEM_UNARMED_DEV
                                the unarmed NVDIMM's read-only region, DIMM, /dev/pmemN
and pmem-poison FILE|DEVICE OFFSET [LEN] on PATH to inject a media error,
pmem-crash to cut the power. Needs root on an x86-64 Debian-like host: it
installs qemu-system-x86, ndctl, daxctl and xfsprogs with apt-get and unpacks
the kernel into /var/cache/daxkit-vm on first use (a boot takes ~20 s under
software emulation; JS runs ~10x slower than on the host).

Options:
  --mem SIZE            guest RAM (2G)
  --cpus N              guest vCPUs (up to 4)
  --ext4-size SIZE      pmem sizes, multiples of 16M (1G, 1G, 512M)
  --xfs-size SIZE
  --devdax-size SIZE
  --dax MODE            mount both filesystems with dax=always|inode|never (always)
  --ext4-mount OPTS     ext4 mount options, e.g. dax=inode (overrides --dax)
  --xfs-mount OPTS      xfs mount options
  --legacy SIZE         also a legacy memmap=SIZE!1G pmem device (PMEM_LEGACY_DEV)
  --virtio-pmem SIZE    also a virtio-pmem device (a multiple of 16M) with ext4 -o dax
  --hmem SIZE           also soft-reserved RAM (a multiple of 2M) as a devdax device;
                        taken from guest RAM at 1G, after --legacy
  --cxl SIZE            also CXL persistent memory (a multiple of 256M) on a q35
                        machine: a region, an fsdax namespace, ext4 -o dax
  --nvdimm-persistence cpu|mem-ctrl
                        the NVDIMM regions' persistence_domain: cpu_cache or
                        memory_controller (default: none reported)
  --nvdimm-unarmed      also a 64 MiB unarmed NVDIMM, whose region is read-only
  --images DIR          keep the pmem images (NVDIMMs, virtio-pmem, CXL and its label
                        area) in DIR, and boot on them when they exist
  --keep                keep the run directory (console.log, dmesg.log)
  --timeout SECONDS     kill the guest after this long (1800; exit 124)
  --env NAME            pass the variable NAME into the guest (repeatable)
  --accel tcg|kvm|auto  QEMU accelerator (auto)
  --no-pmem-setup       leave the memory raw (no labels, namespaces, CXL region, mkfs)
  --verbose             print the guest console afterwards

Exit status: COMMAND's; 125 when the VM could not start (the reason is printed);
124 on timeout; 2 on a usage error.

Example:
  daxkit vm -- node -e "const m = require('daxkit').open(process.env.PMEM_XFS_DIR + '/f', { size: 1 << 20, create: true, sync: 'required' }); console.log(m.kind, m.flushMechanism)"`,
  run(argv) {
    const opts: string[] = [];
    let i = 0;
    while (i < argv.length) {
      const a = argv[i];
      if (a === '--') {
        i++;
        break;
      }
      if (VM_VALUE_OPTIONS.includes(a)) {
        if (i + 1 >= argv.length) throw new UsageError(`option '${a}' needs a value`);
        opts.push(a, argv[i + 1]);
        i += 2;
      } else if (VM_FLAGS.includes(a)) {
        opts.push(a);
        i++;
      } else if (a.startsWith('-')) {
        throw new UsageError(`unknown option '${a}'${didYouMean(a, [...VM_VALUE_OPTIONS, ...VM_FLAGS])} (the guest command goes after --: daxkit vm [OPTIONS] -- COMMAND)`);
      } else {
        break;
      }
    }
    const cmd = argv.slice(i);
    if (cmd.length === 0) throw new UsageError('no command given: daxkit vm [OPTIONS] -- COMMAND [ARG...]');
    const blocker = vmBlocker();
    if (blocker !== null) {
      process.stderr.write(`daxkit: cannot start the VM: ${blocker}\n`);
      return 125;
    }
    return new Promise((resolve) => {
      const child = spawn(VM_RUNNER, [...opts, process.cwd(), '--', ...cmd], { stdio: 'inherit' });
      child.on('error', (e) => {
        process.stderr.write(`daxkit: cannot start the VM: ${e.message}\n`);
        resolve(125);
      });
      child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 125)));
    });
  },
};
