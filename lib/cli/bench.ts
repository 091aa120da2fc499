// daxkit bench: the benchmark of scripts/bench (shipped in dist/scripts/).
import { runBench } from '../../scripts/bench/main';
import { HELP } from '../../scripts/bench/options';
import type { Command } from './common';

export const bench: Command = {
  summary: 'how much faster durable writes and reads are through DAX than through the page cache, here (--full: the thorough set)',
  help: HELP,
  run: (argv) => runBench(argv),
};
