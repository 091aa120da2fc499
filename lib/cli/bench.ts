// daxkit bench: the benchmark of lib/bench, in the CLI.
// This wrapper puts its command line in daxkit's voice, and makes a saved
// document that cannot be read (--report, --compare) a failure (exit 1), not
// a usage error: the command line was right, the file was not.
import * as fs from 'node:fs';
import { runBench } from '../bench/main';
import { HELP, parseOptions } from '../bench/options';
import { assertDocument } from '../bench/report';
import { UsageError } from '../errors';
import { didYouMean, voice, type Command } from './args';

/** The options bench's help lists, for "did you mean". */
const SPELLED = [...new Set([...HELP.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?=[\s,=]|$)/gm)].map((m) => m[1]))];

function inOurVoice(e: unknown): unknown {
  if (!(e instanceof UsageError)) return e;
  const message = voice(e.message.replace(/ \(see daxkit bench --help\)$/, ''));
  const unknown = /^unknown option '([^']+)'$/.exec(message);
  return new UsageError(unknown === null ? message : `${message}${didYouMean(unknown[1], SPELLED)}`);
}

/** A saved bench document: readable, JSON, and a bench document; else an Error naming the file. */
function checkDocument(file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw Object.assign(e as Error, { hint: 'a saved document is written with daxkit bench --json > FILE' });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not JSON (${(e as Error).message}): write a document with daxkit bench --json > FILE`);
  }
  assertDocument(doc, file);
}

export const bench: Command = {
  summary: 'how much faster durable writes and reads are through DAX than through the page cache, here (--full: the thorough set)',
  help: HELP,
  async run(argv) {
    let opts;
    try {
      opts = parseOptions(argv);
    } catch (e) {
      throw inOurVoice(e);
    }
    for (const f of opts.report !== null ? [opts.report] : (opts.compare ?? [])) checkDocument(f);
    try {
      return await runBench(argv);
    } catch (e) {
      throw inOurVoice(e);
    }
  },
};
