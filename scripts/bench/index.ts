#!/usr/bin/env node
// npm run bench [-- ARGS]: the same as daxkit bench ARGS.
import { err, out, UsageError } from '../../lib/cli/common';
import { runBench } from './main';
import { HELP } from './options';

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    out(HELP);
    return 0;
  }
  try {
    return await runBench(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message);
      return 2;
    }
    err((e as Error).stack ?? String(e));
    return 1;
  }
}

if (require.main === module) {
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
