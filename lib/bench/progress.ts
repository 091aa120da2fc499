// Progress: a bar redrawn in place on a terminal, nothing in pipes or CI.
// Inside the VM there is no terminal; there the guest writes progress events
// as lines on stderr, and the host draws the bar from them.
import { fmtDuration } from './units';
import { terminalSafe } from '../fs/path-bytes';

export const EVENT_PREFIX = '@@daxkit-bench ';

export interface ProgressEvent {
  done: number;
  total: number;
  label: string;
  /** Estimated milliseconds left. */
  leftMs: number;
}

export class Progress {
  private total = 0;
  private done = 0;
  private label = '';
  private t0 = Date.now();
  private weightDone = 0;
  private weightTotal = 0;
  private drawn = false;
  /** A prefix for the bar (e.g. which run of several). */
  stage = '';

  constructor(
    private readonly mode: 'bar' | 'events' | 'off',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  static forTerminal(events: boolean): Progress {
    if (events) return new Progress('events');
    const tty = process.stderr.isTTY === true && !process.env.CI && process.env.TERM !== 'dumb';
    return new Progress(tty ? 'bar' : 'off');
  }

  /** Starts a run of `total` items with a summed weight (expected time) of `weight`. */
  start(total: number, weight: number): void {
    this.total = total;
    this.done = 0;
    this.weightDone = 0;
    this.weightTotal = weight;
    this.t0 = Date.now();
  }

  begin(label: string): void {
    this.label = label;
    this.render();
  }

  end(weight: number): void {
    this.done++;
    this.weightDone += weight;
    this.render();
  }

  /** The estimate of what is left, from the time the finished weight took. */
  leftMs(): number {
    if (this.weightDone <= 0) return NaN;
    return ((Date.now() - this.t0) / this.weightDone) * (this.weightTotal - this.weightDone);
  }

  /** Draws an event received from the guest. */
  show(e: ProgressEvent): void {
    this.done = e.done;
    this.total = e.total;
    this.label = e.label;
    this.renderBar(e.leftMs);
  }

  /** A line of text that must not be overwritten by the bar. */
  log(text: string): void {
    if (this.mode === 'bar' && this.drawn) this.stream.write('\r\x1b[K');
    const t = terminalSafe(text);
    this.stream.write(t.endsWith('\n') ? t : `${t}\n`);
    if (this.mode === 'bar' && this.drawn) this.renderBar(this.leftMs());
  }

  clear(): void {
    if (this.mode === 'bar' && this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  private render(): void {
    if (this.mode === 'events') {
      const e: ProgressEvent = { done: this.done, total: this.total, label: `${this.stage}${this.label}`, leftMs: this.leftMs() };
      this.stream.write(`${EVENT_PREFIX}${JSON.stringify(e)}\n`);
    } else if (this.mode === 'bar') {
      this.renderBar(this.leftMs());
    }
  }

  private renderBar(leftMs: number): void {
    if (this.mode !== 'bar') return;
    const cols = Math.max(40, this.stream.columns ?? 80);
    const width = Math.min(30, Math.max(10, cols - 60));
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const fill = Math.round(frac * width);
    const eta = Number.isFinite(leftMs) ? ` ~${fmtDuration(leftMs)} left` : '';
    const head = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${this.done}/${this.total}${eta} `;
    const label = terminalSafe(`${this.stage}${this.label}`);
    const room = cols - head.length - 1;
    this.stream.write(`\r\x1b[K${head}${label.length > room ? `${label.slice(0, Math.max(0, room - 1))}…` : label}`);
    this.drawn = true;
  }
}
