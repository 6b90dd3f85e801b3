import type { SweepProgress } from '../engine/scheduler.js';
import { formatCount } from '../core/format.js';

/** A one-line progress bar on a TTY, redrawn at most ten times a second. */
export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(progress: SweepProgress): void {
    const now = performance.now();
    if (progress.done < progress.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 30;
    const ratio = progress.total === 0 ? 1 : progress.done / progress.total;
    const filled = Math.round(ratio * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.stream.write(
      `\r${bar} ${formatCount(progress.done)}/${formatCount(progress.total)}` +
        ` · ${formatCount(progress.alive)} alive\x1b[K`,
    );
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
