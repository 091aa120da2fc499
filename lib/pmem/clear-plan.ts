// badblocks --clear: what will be zeroed is scanned, shown, confirmed, and
// only then cleared, and a confirmation can take as long as an admin takes.
// So the clear must act on the very objects that were scanned, not on what
// their paths name by then: each FILE or DIR stays open (its O_PATH fd) from
// the scan to the clear; the files of a DIR are reached again from that fd,
// name by name, each checked to be the inode scanned (Tree.revisit); a root
// whose path no longer names what was scanned (swapped for a symlink, moved)
// clears nothing; and only the ranges confirmed are cleared, and only where
// they are still bad.
import { binding } from '../binding';
import { DaxError } from '../errors';
import { closeQuietly, Tree, type TreeEntry } from '../fs/tree-walk';
import { validatePathArg, type PathArg } from '../validate';
import { scanBadFiles } from './bad-files';
import { fileReport, type BadblocksReport } from './badblocks';
import { clearOpenFile, refusal, unclearable, type ClearBadblocksResult } from './clear';
import { analyzeFd } from './file-analysis';
import { loadModel, regionCanClear, type NdRegion, type PmemModel } from './nd-model';
import type { BadRange } from './ranges';
import { isDeviceName, resolve, resolveOpen } from './targets';
import { sysfsRootOption } from './sysfs';

/** A FILE or DIR as given, open since the scan. */
interface Held {
  tree: Tree;
  text: string;
  bytes: Buffer;
}

/** A file to clear: its report (the ranges shown and confirmed) and where it was found. */
export interface ClearItem {
  report: BadblocksReport;
  held: Held;
  /** The file in the walk of a DIR; null when the FILE itself was given. */
  entry: TreeEntry | null;
}

/** What the scan of one target came to, in order. */
export type PlanStep =
  | { kind: 'failed'; target: string; error: unknown }
  | { kind: 'clean'; result: ClearBadblocksResult }
  | { kind: 'todo'; item: ClearItem };

/** What the clear of one item came to: its result and the bad ranges found since and left alone, or the error. */
export type ClearOutcome = { item: ClearItem; ok: true; result: ClearBadblocksResult; unconfirmed: BadRange[] } | { item: ClearItem; ok: false; error: unknown };

function sameObject(a: { ino: bigint; devMajor: number; devMinor: number; mntId: number | null }, b: typeof a): boolean {
  return a.ino === b.ino && a.devMajor === b.devMajor && a.devMinor === b.devMinor && (a.mntId === null || b.mntId === null || a.mntId === b.mntId);
}

/**
 * The files to clear, scanned and held open until apply() (or close()).
 * @internal (the CLI's badblocks --clear)
 */
export class ClearPlan {
  readonly steps: PlanStep[] = [];
  readonly #held: Held[] = [];
  readonly #m: PmemModel;
  readonly #root: string;
  readonly #allowUncleared: boolean;

  private constructor(root: string, allowUncleared: boolean) {
    this.#root = root;
    this.#m = loadModel(root);
    this.#allowUncleared = allowUncleared;
  }

  /** Scans each target: a FILE, every file hit under a DIR, or a device or region (refused, with the reason). */
  static scan(targets: ReadonlyArray<{ text: string; arg: PathArg }>, options: { sysfsRoot?: string; allowUncleared: boolean }): ClearPlan {
    const plan = new ClearPlan(sysfsRootOption(options), options.allowUncleared);
    try {
      for (const t of targets) {
        try {
          plan.#scanOne(t.text, t.arg);
        } catch (e) {
          plan.steps.push({ kind: 'failed', target: t.text, error: e });
        }
      }
      return plan;
    } catch (e) {
      plan.close();
      throw e;
    }
  }

  /** The files that need confirming, in order. */
  get todo(): ClearItem[] {
    return this.steps.flatMap((s) => (s.kind === 'todo' ? [s.item] : []));
  }

  #scanOne(shown: string, arg: PathArg): void {
    const { bytes, text } = validatePathArg('target', arg);
    const m = this.#m;
    if (isDeviceName(text)) {
      const r = resolve(text, bytes, m);
      if (r.kind === 'file') r.tree.close();
      else throw refusal(text, r);
      return;
    }
    const tree = Tree.open(bytes, text, true);
    const held: Held = { tree, text, bytes };
    let keep = false;
    try {
      if (tree.root.type === 'directory') {
        const { report, entries } = scanBadFiles(tree, text, bytes, m);
        for (const f of report.files) keep = this.#plan({ report: f, held, entry: entries.get(f) as TreeEntry }) || keep;
        return;
      }
      const r = resolveOpen(tree, text, m);
      if (r.kind !== 'file') throw refusal(shown, r);
      const fd = tree.openRoot(false);
      let report: BadblocksReport;
      try {
        report = fileReport(text, bytes, analyzeFd(fd, text, m));
      } finally {
        closeQuietly(fd);
      }
      keep = this.#plan({ report, held, entry: null });
    } finally {
      if (keep) this.#held.push(held);
      else tree.close();
    }
  }

  /** Files one step: clean, refused, or to do. Returns whether it is to do. */
  #plan(item: ClearItem): boolean {
    const r = item.report;
    const region = this.#m.regions.find((x) => x.name === r.region) ?? null;
    const canClear = regionCanClear(region);
    if (r.ranges.length === 0) {
      this.steps.push({ kind: 'clean', result: { path: r.target, pathBuffer: r.targetBuffer, device: r.device, blockSize: r.blockSize ?? 0, zeroed: [], remaining: [], released: [], canClearErrors: canClear } });
      return false;
    }
    if (canClear !== true && !this.#allowUncleared) {
      const disk = this.#m.block(r.device)?.name ?? this.#m.partition(r.device)?.disk.name ?? r.device;
      this.steps.push({ kind: 'failed', target: r.target, error: unclearable(r.target, disk, region as NdRegion, r.ranges) });
      return false;
    }
    this.steps.push({ kind: 'todo', item });
    return true;
  }

  /**
   * Clears every item, each on the object scanned and only within the ranges
   * confirmed (its report's); an item whose FILE or DIR no longer names what
   * was scanned, or whose file was replaced meanwhile, fails with
   * ERR_DAX_TREE_CHANGED and is left alone.
   */
  apply(): ClearOutcome[] {
    // sysfs as it is now: a confirmed range no longer bad is left alone, a new one is not cleared unasked.
    const m = loadModel(this.#root);
    const outcomes = new Map<ClearItem, ClearOutcome>();
    const todo = this.todo;
    for (const held of this.#held) {
      const items = todo.filter((i) => i.held === held);
      const changed = this.#rootChanged(held);
      if (changed !== null) {
        for (const item of items) outcomes.set(item, { item, ok: false, error: changed(item.report.target) });
        continue;
      }
      if (items.length === 1 && items[0].entry === null) {
        const item = items[0];
        outcomes.set(item, this.#clear(item, m, () => held.tree.openRoot(true)));
        continue;
      }
      const byEntry = new Map(items.map((i) => [i.entry as TreeEntry, i]));
      held.tree.revisit(
        [...byEntry.keys()],
        (e, fd) => {
          const item = byEntry.get(e) as ClearItem;
          outcomes.set(item, this.#clear(item, m, () => fd, false));
          return false;
        },
        (e, err) => {
          const item = byEntry.get(e) as ClearItem;
          outcomes.set(item, { item, ok: false, error: err });
        },
        true,
      );
    }
    return todo.map((item) => outcomes.get(item) ?? { item, ok: false, error: new DaxError('ERR_DAX_TREE_CHANGED', `'${item.report.target}' could not be reached again`, { path: item.report.target }) });
  }

  #clear(item: ClearItem, m: PmemModel, open: () => number, close = true): ClearOutcome {
    let fd = -1;
    try {
      fd = open();
      const r = item.report;
      const { result, unconfirmed } = clearOpenFile(fd, r.target, r.targetBuffer, { want: null, confirmed: r.ranges, allowUncleared: this.#allowUncleared, m, root: this.#root });
      return { item, ok: true, result, unconfirmed };
    } catch (e) {
      return { item, ok: false, error: e };
    } finally {
      if (close && fd >= 0) closeQuietly(fd);
    }
  }

  /** null when the FILE or DIR as given still names what was scanned; else the error for each of its files. */
  #rootChanged(held: Held): ((file: string) => DaxError) | null {
    let now: ReturnType<typeof binding.statx> | null = null;
    try {
      now = binding.statx(held.bytes, true, held.text);
    } catch {
      now = null;
    }
    const then = held.tree.root.st as NonNullable<TreeEntry['st']>;
    if (now !== null && sameObject(now, then)) return null;
    const what = held.tree.root.type === 'directory' ? 'directory' : 'file';
    const why = `'${held.text}' no longer names the ${what} that was scanned (it was replaced, moved or removed since)`;
    return (file) => {
      const reason = `not cleared: ${why}, so what it names now was not what was confirmed`;
      return new DaxError('ERR_DAX_TREE_CHANGED', `'${file}' was ${reason}`, { path: file, reason });
    };
  }

  /** Closes what the scan holds open. */
  close(): void {
    for (const h of this.#held.splice(0)) h.tree.close();
  }
}
