// daxkit bench: the benchmark of scripts/bench (shipped in dist/scripts/).
import { runBench } from '../../scripts/bench/main';
import { HELP } from '../../scripts/bench/options';
import type { Command } from './common';

export const bench: Command = {
  summary: 'benchmark DAX against page-cache I/O, with fio and a native calibration alongside',
  help: HELP,
  run: (argv) => runBench(argv),
};
