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

/**
 * Something with a deadline, in performance.now() milliseconds, set by the queue when it is added: the queue's
 * field, which nothing else writes (a bucket's place in the heap follows the deadline of its head).
 */
export interface Expiring {
  deadline: number;
}

/** The items added with one duration, in the order they were added (so in the order they fall due). */
interface Bucket<T> {
  readonly durationMs: number;
  readonly items: Fifo<T>;
  /** The deadline of its head when it was last looked at: the heap's key. */
  key: number;
  /** Its place in the heap. */
  slot: number;
}

/**
 * Deadlines for many probes with few distinct durations. Items added with the same duration expire in the order
 * they were added, so a FIFO per duration and one timer for the earliest head replace one timer per probe.
 * An item is skipped at expiry if `isSettled` says it was answered meanwhile.
 *
 * A duration's bucket lives while it holds items, and the buckets sit in a min-heap by the deadline of their head:
 * an agent's engine sees every timeout of every sweep it runs (retries multiply them), and neither its memory nor
 * the cost of a timer firing grows with how many it has seen: a firing looks only at the buckets whose head is due.
 *
 * An item is added once: to wait again (an echo that was not sent after all), add a fresh one and let `isSettled`
 * drop the old. (An item added again while still queued has the later deadline at both places, and holds up the
 * items behind its first place until then.)
 */
export class DeadlineQueue<T extends Expiring> {
  private readonly buckets = new Map<number, Bucket<T>>();
  private readonly heap: Bucket<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private visits = 0;

  constructor(
    private readonly isSettled: (item: T) => boolean,
    private readonly onExpire: (item: T) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Durations with items waiting: one bucket each. */
  get bucketCount(): number {
    return this.buckets.size;
  }

  /** Buckets looked at by the timer's firings so far (what a firing costs, for tests). */
  get bucketsVisited(): number {
    return this.visits;
  }

  add(item: T, durationMs: number): void {
    let bucket = this.buckets.get(durationMs);
    item.deadline = this.now() + durationMs;
    if (bucket === undefined) {
      bucket = { durationMs, items: new Fifo(), key: item.deadline, slot: this.heap.length };
      this.buckets.set(durationMs, bucket);
      bucket.items.push(item);
      this.heap.push(bucket);
      this.siftUp(bucket.slot);
    } else {
      // Drop answered items from the front now, so a fast sweep does not keep one entry per probe until expiry.
      const items = bucket.items;
      let dropped = false;
      for (let head = items.peek(); head && this.isSettled(head); head = items.peek()) {
        items.shift();
        dropped = true;
      }
      items.push(item);
      // Dropped heads leave a later head; an item added again while it is this bucket's head, an earlier one.
      if (dropped || (items.peek() as T).deadline < bucket.key) this.rekey(bucket);
    }
    if (item.deadline < this.timerAt) this.arm(item.deadline);
  }

  clear(): void {
    this.buckets.clear();
    this.heap.length = 0;
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
    for (let bucket = this.heap[0]; bucket !== undefined && bucket.key <= now; bucket = this.heap[0]) {
      this.visits += 1;
      const items = bucket.items;
      for (let head = items.peek(); head; head = items.peek()) {
        if (this.isSettled(head)) {
          items.shift();
        } else if (head.deadline <= now) {
          items.shift();
          expired.push(head);
        } else {
          break;
        }
      }
      if (items.length === 0) this.remove(bucket);
      else this.rekey(bucket);
    }
    const next = this.heap[0];
    if (next !== undefined && next.key < Infinity) this.arm(next.key);
    for (const item of expired) this.onExpire(item);
  }

  /** The bucket's head, or its head's deadline, changed: its place in the heap follows. */
  private rekey(bucket: Bucket<T>): void {
    const head = bucket.items.peek();
    if (head === undefined) return this.remove(bucket);
    bucket.key = head.deadline;
    this.siftDown(bucket.slot);
    this.siftUp(bucket.slot);
  }

  private remove(bucket: Bucket<T>): void {
    this.buckets.delete(bucket.durationMs);
    const last = this.heap.pop();
    if (last === undefined || last === bucket) return;
    last.slot = bucket.slot;
    this.heap[last.slot] = last;
    this.siftDown(last.slot);
    this.siftUp(last.slot);
  }

  private siftUp(slot: number): void {
    const heap = this.heap;
    const bucket = heap[slot] as Bucket<T>;
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1;
      const parent = heap[parentSlot] as Bucket<T>;
      if (parent.key <= bucket.key) break;
      heap[slot] = parent;
      parent.slot = slot;
      slot = parentSlot;
    }
    heap[slot] = bucket;
    bucket.slot = slot;
  }

  private siftDown(slot: number): void {
    const heap = this.heap;
    const bucket = heap[slot] as Bucket<T>;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= heap.length) break;
      const right = child + 1;
      if (right < heap.length && (heap[right] as Bucket<T>).key < (heap[child] as Bucket<T>).key) child = right;
      const smaller = heap[child] as Bucket<T>;
      if (smaller.key >= bucket.key) break;
      heap[slot] = smaller;
      smaller.slot = slot;
      slot = child;
    }
    heap[slot] = bucket;
    bucket.slot = slot;
  }
}
