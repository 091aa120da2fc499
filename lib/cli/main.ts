#!/usr/bin/env node
// The daxkit command: a thin shell over the library's exported functions.
import { UsageError } from '../errors';
import { didYouMean, rawArgs, voice, type Command } from './args';
import { describe } from './failure';
import { err, out } from './output';
import { vm } from './vm';
import { bench } from './bench';
import { status } from './status';
import { flag } from './flag';
import { devices } from './devices';
import { badblocksCommand as badblocks } from './badblocks';
import { doctor } from './doctor';

const commands: Record<string, Command> = { status, doctor, flag, devices, badblocks, bench, vm };

const HELP_HELP = `Usage: daxkit help [COMMAND]
Without COMMAND: the list of commands. With one: its help, the same as
daxkit COMMAND --help.
Exit status: 0; 2 for a COMMAND that does not exist.`;

function version(): string {
  return (require('../../../package.json') as { version: string }).version;
}

function mainHelp(): string {
  const width = [...Object.keys(commands), 'help'].reduce((m, c) => Math.max(m, c.length), 0);
  const list = Object.entries(commands)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `Usage: daxkit COMMAND [OPTIONS]
Direct access to Linux persistent memory (DAX) from Node.js.

Commands:
${list}
  ${'help'.padEnd(width)}  show this text, or a command's: daxkit help COMMAND

Options of every command: -h, --help. daxkit --version (-V) prints the version.
Exit status: 0 ok, 1 an operation failed, 2 a usage error.`;
}

/** A usage error: the message, then where to read more (as GNU tools do). */
function usage(message: string, helpCommand: string): number {
  err(message);
  process.stderr.write(`Try '${helpCommand}' for more information.\n`);
  return 2;
}

function unknownCommand(name: string): number {
  if (name.startsWith('-')) return usage(`unknown option '${name}'${didYouMean(name, ['--help', '--version'])}; a command's options go after it (daxkit COMMAND ${name})`, 'daxkit help');
  return usage(`unknown command '${name}'${didYouMean(name, [...Object.keys(commands), 'help'])}`, 'daxkit help');
}

export async function main(argv: string[], raw: Buffer[] = rawArgs(argv)): Promise<number> {
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
    if (rest.length > 1) return usage(`help takes one COMMAND (got ${rest.length}: ${rest.join(' ')})`, 'daxkit help help');
    if (topic === undefined) {
      out(mainHelp());
      return 0;
    }
    if (topic === 'help') {
      out(HELP_HELP);
      return 0;
    }
    const c = commands[topic];
    if (c === undefined) return unknownCommand(topic);
    out(c.help);
    return 0;
  }
  const cmd = commands[name];
  if (cmd === undefined) return unknownCommand(name);
  // vm passes everything after its own options to the guest command; '--'
  // ends the options, so `daxkit flag set -- -h` acts on a file named -h.
  const options = rest.indexOf('--') < 0 ? rest : rest.slice(0, rest.indexOf('--'));
  const asksHelp = name === 'vm' ? rest[0] === '-h' || rest[0] === '--help' : options.includes('-h') || options.includes('--help');
  if (asksHelp) {
    out(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest, raw.slice(1));
  } catch (e) {
    // parseArgs reports unknown options and missing values as ERR_PARSE_ARGS_*.
    if (e instanceof UsageError || String((e as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) {
      return usage(e instanceof UsageError ? (e as Error).message : voice((e as Error).message), `daxkit ${name} --help`);
    }
    err(describe(e));
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
