import { spawn } from 'node:child_process';
import { didYouMean, UsageError, type Command } from './common';
import { VM_RUNNER, vmBlocker } from '../vm';

// run.sh options: those that take a value, and flags.
const VALUE_OPTIONS = ['--mem', '--cpus', '--ext4-size', '--xfs-size', '--devdax-size', '--dax', '--ext4-mount', '--xfs-mount', '--legacy', '--images', '--timeout', '--env', '--accel'];
const FLAGS = ['--keep', '--no-pmem-setup', '--verbose'];

export const vm: Command = {
  summary: 'run a command in a throw-away VM with emulated persistent memory (fsdax ext4/xfs, devdax)',
  help: `Usage: daxkit vm [OPTIONS] [--] COMMAND [ARG...]

Boots Debian's kernel under QEMU with emulated NVDIMMs and runs COMMAND in it,
with the current directory shared read-write at the same path (so node and
this project's node_modules work there), ext4 and xfs mounted -o dax, a devdax
device, and the PMEM_* variables:
  PMEM_EXT4_DIR, PMEM_XFS_DIR   DAX-mounted filesystems (/mnt/pmem-ext4, /mnt/pmem-xfs)
  PMEM_EXT4_DEV, PMEM_XFS_DEV   their pmem block devices
  PMEM_DEVDAX                   the devdax device (/dev/daxN.M, 2 MiB align)
  PMEM_VM=1
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
  --images DIR          keep the NVDIMM images in DIR, and boot on them when they exist
  --keep                keep the run directory (console.log, dmesg.log)
  --timeout SECONDS     kill the guest after this long (1800; exit 124)
  --env NAME            pass the variable NAME into the guest (repeatable)
  --accel tcg|kvm|auto  QEMU accelerator (auto)
  --no-pmem-setup       leave the NVDIMMs raw
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
      if (VALUE_OPTIONS.includes(a)) {
        if (i + 1 >= argv.length) throw new UsageError(`option '${a}' needs a value`);
        opts.push(a, argv[i + 1]);
        i += 2;
      } else if (FLAGS.includes(a)) {
        opts.push(a);
        i++;
      } else if (a.startsWith('-')) {
        throw new UsageError(`unknown option '${a}'${didYouMean(a, [...VALUE_OPTIONS, ...FLAGS])} (the guest command goes after --: daxkit vm [OPTIONS] -- COMMAND)`);
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
