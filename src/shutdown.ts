/**
 * How a service stops: step by step, each step bounded by its own timer. A step that needs Redis waits forever while
 * Redis is away (BullMQ's `Worker.close()` does: bullmq#4656), and a service asked to stop must stop.
 */
export class Shutdown {
  /** The steps that did not finish in time, in order: empty after a clean stop. */
  readonly unfinished: string[] = [];

  /**
   * Waits for `work` at most `ms` milliseconds (0: not at all) and says whether it finished in time. A step that
   * fails has finished: what it could not do is for the next one (or the next process) to pick up.
   */
  async step(name: string, ms: number, work: Promise<unknown> | undefined): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.resolve(work).then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, ms));
      }),
    ]);
    clearTimeout(timer);
    if (!finished) this.unfinished.push(name);
    return finished;
  }
}
