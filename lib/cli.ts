#!/usr/bin/env node
// The daxkit command: a thin shell over the library's exported functions.
import { err, out, UsageError, type Command } from './cli/common';
import { vm } from './cli/vm';
import { bench } from './cli/bench';
import { status } from './cli/status';
import { flag } from './cli/flag';
import { devices } from './cli/devices';
import { badblocksCommand as badblocks } from './cli/badblocks';

const commands: Record<string, Command> = { status, flag, devices, badblocks, bench, vm };

function version(): string {
  return (require('../../package.json') as { version: string }).version;
}

function mainHelp(): string {
  const width = Math.max(...[...Object.keys(commands), 'help'].map((c) => c.length));
  const list = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `Usage: daxkit COMMAND [OPTIONS]

Direct access to Linux persistent memory (DAX) from Node.js.

Commands:
${list}
  ${'help'.padEnd(width)}  show this text, or a command's: daxkit help COMMAND

Options of every command: -h, --help. daxkit --version prints the version.
Exit status: 0 ok, 1 an operation failed, 2 a usage error.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${mainHelp()}\n`);
    return 2;
  }
  if (name === '-h' || name === '--help') {
    out(mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    out(version());
    return 0;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      out(mainHelp());
      return 0;
    }
    const c = commands[topic];
    if (c === undefined) {
      err(`unknown command '${topic}' (see daxkit help)`);
      return 2;
    }
    out(c.help);
    return 0;
  }
  const cmd = commands[name];
  if (cmd === undefined) {
    err(`unknown command '${name}' (see daxkit help)`);
    return 2;
  }
  // vm passes everything after its own options to the guest command.
  const asksHelp = name === 'vm' ? rest[0] === '-h' || rest[0] === '--help' : rest.includes('-h') || rest.includes('--help');
  if (asksHelp) {
    out(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    // parseArgs reports unknown options and missing values as ERR_PARSE_ARGS_*.
    if (e instanceof UsageError || String((e as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) {
      err((e as Error).message);
      return 2;
    }
    err((e as Error).message);
    return 1;
  }
}

if (require.main === module) {
  // `daxkit ... | head` closes the pipe early: that ends the output, it is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      err((e as Error).stack ?? String(e));
      process.exitCode = 1;
    },
  );
}
