/** A FIFO with O(1) push and shift, without Array#shift's copying. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** The items from first to last, without removing them. */
  *values(): Generator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

/** Something with a deadline, in performance.now() milliseconds, set by the queue. */
export interface Expiring {
  deadline: number;
}

/**
 * Deadlines for many probes with few distinct durations. Items added with the same duration expire in the order
 * they were added, so a FIFO per duration and one timer for the earliest head replace one timer per probe.
 * An item is skipped at expiry if `isSettled` says it was answered meanwhile.
 */
export class DeadlineQueue<T extends Expiring> {
  private readonly buckets = new Map<number, Fifo<T>>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(
    private readonly isSettled: (item: T) => boolean,
    private readonly onExpire: (item: T) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(item: T, durationMs: number): void {
    let bucket = this.buckets.get(durationMs);
    if (!bucket) {
      bucket = new Fifo();
      this.buckets.set(durationMs, bucket);
    }
    // Drop answered items from the front now, so a fast sweep does not keep one entry per probe until expiry.
    for (let head = bucket.peek(); head && this.isSettled(head); head = bucket.peek()) bucket.shift();
    item.deadline = this.now() + durationMs;
    bucket.push(item);
    if (item.deadline < this.timerAt) this.arm(item.deadline);
  }

  clear(): void {
    this.buckets.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(at - this.now())));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    const expired: T[] = [];
    let next = Infinity;
    for (const bucket of this.buckets.values()) {
      for (let head = bucket.peek(); head; head = bucket.peek()) {
        if (this.isSettled(head)) {
          bucket.shift();
        } else if (head.deadline <= now) {
          bucket.shift();
          expired.push(head);
        } else {
          if (head.deadline < next) next = head.deadline;
          break;
        }
      }
    }
    if (next < Infinity) this.arm(next);
    for (const item of expired) this.onExpire(item);
  }
}
