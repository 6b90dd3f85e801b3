import { NEIGHBOUR_RESOLVE_MS } from './routes.js';

/**
 * Packets per second, with a burst of 10 ms worth of them: pacing at high rates cannot rely on timers finer than
 * a millisecond. A rate of 0 means unlimited. Shared by whoever holds it (the chunks of one sweep on one agent).
 */
export class TokenBucket {
  private tokens: number;
  private readonly burst: number;
  private lastRefill = performance.now();

  constructor(readonly rate: number) {
    this.burst = Math.max(1, Math.ceil(rate / 100));
    this.tokens = this.burst;
  }

  /** True when a packet may go now. */
  ready(): boolean {
    if (this.rate <= 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.rate) / 1000);
    this.lastRefill = now;
    return this.tokens >= 1;
  }

  /** Spends one token (after `ready()` said yes). */
  take(): void {
    if (this.rate > 0) this.tokens -= 1;
  }

  /** Milliseconds until the next token, at least 1. */
  waitMs(): number {
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
  }
}

/** A scheduler waiting for room in the budget. */
export interface BudgetWaiter {
  /** Called when there may be room again; the waiter tries again and waits again if there is none. */
  wake(): void;
  /** Lower is served first (the older sweep); default 0. */
  readonly priority?: number;
}

/** Waiters by priority, each once; the lowest first, and in arrival order among equals. */
class WaiterLine {
  private readonly heap: { waiter: BudgetWaiter; key: number; order: number }[] = [];
  private readonly queued = new Set<BudgetWaiter>();
  private arrivals = 0;

  get length(): number {
    return this.heap.length;
  }

  /** The priority of the first in line; Infinity when nobody waits. */
  firstPriority(): number {
    return this.heap[0]?.key ?? Infinity;
  }

  push(waiter: BudgetWaiter): void {
    if (this.queued.has(waiter)) return;
    this.queued.add(waiter);
    const heap = this.heap;
    heap.push({ waiter, key: waiter.priority ?? 0, order: this.arrivals++ });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  shift(): BudgetWaiter | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop();
    if (last && heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < heap.length && this.before(left, best)) best = left;
        if (right < heap.length && this.before(right, best)) best = right;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    this.queued.delete(top.waiter);
    return top.waiter;
  }

  clear(): void {
    this.heap.length = 0;
    this.queued.clear();
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a];
    const y = this.heap[b];
    if (!x || !y) return false;
    return x.key < y.key || (x.key === y.key && x.order < y.order);
  }

  private swap(a: number, b: number): void {
    const x = this.heap[a];
    const y = this.heap[b];
    if (!x || !y) return;
    this.heap[a] = y;
    this.heap[b] = x;
  }
}

export interface BudgetLimits {
  /** Packets per second for everything the engine sends, 0 = unlimited. */
  rate: number;
  /** Probes outstanding at once, all targets together. */
  maxInFlight: number;
  /** On-link targets in progress at once (each holds a neighbour table entry until NEIGHBOUR_RESOLVE_MS). */
  maxOnLink: number;
}

/** The smallest on-link allowance a congested engine backs off to. */
const MIN_ON_LINK = 8;

/**
 * The send budget of one engine, drawn on by every scheduler that runs on it (an agent's chunks): one rate, one
 * in-flight count, one allowance of on-link targets. A scheduler that finds no room waits in line and is woken,
 * in turn, when a probe ends or a token is due: the oldest sweep first (its priority), so the chunks an agent holds
 * finish in the order they came rather than all together at the end.
 *
 * When the kernel says its buffers are short (ENOBUFS: a full neighbour table, a full device queue), the on-link
 * allowance is halved, and it grows back by one target for each on-link target finished without trouble.
 */
export class SendBudget {
  inFlight = 0;
  onLink = 0;
  private onLinkAllowance: number;
  private readonly bucket: TokenBucket;
  /** Waiting for room for a probe (in-flight or rate). */
  private readonly waiting = new WaiterLine();
  /** Waiting for on-link room: woken only when some comes back. */
  private readonly waitingOnLink = new WaiterLine();
  private wakeScheduled = false;
  private onLinkWakeScheduled = false;
  private tokenTimer: NodeJS.Timeout | undefined;
  private readonly releaseTimers = new Set<NodeJS.Timeout>();

  constructor(readonly limits: BudgetLimits) {
    this.bucket = new TokenBucket(limits.rate);
    this.onLinkAllowance = limits.maxOnLink;
  }

  /**
   * How long a sweep may wait in line for this budget before its first probe, in ms (an agent: the chunks it holds
   * ahead of it, sent at the rate); added to the time bound of each sweep started after it is set. Default 0.
   */
  queueMs = 0;

  /** When the kernel last ran short of buffers (performance.now() ms): sweeps count their time bound from it. */
  lastCongestionAt = -Infinity;

  /** On-link targets allowed in progress now (lower after ENOBUFS). */
  get onLinkLimit(): number {
    return this.onLinkAllowance;
  }

  /** Takes room for one probe now, or puts `waiter` in line and returns false. */
  takeProbe(waiter: BudgetWaiter): boolean {
    if (this.inFlight >= this.limits.maxInFlight) return this.wait(this.waiting, waiter);
    // An older sweep waiting in line goes first, even when this one comes by on its own (a reply, a timer).
    if (this.waiting.firstPriority() < (waiter.priority ?? 0)) {
      this.scheduleWake();
      return this.wait(this.waiting, waiter);
    }
    if (!this.bucket.ready()) {
      this.armTokenTimer();
      return this.wait(this.waiting, waiter);
    }
    this.bucket.take();
    this.inFlight += 1;
    return true;
  }

  /** A probe taken with `takeProbe` has ended (answered, timed out, or abandoned). */
  probeDone(): void {
    this.inFlight -= 1;
    this.scheduleWake();
  }

  /** Takes room for one on-link target, or puts `waiter` in line and returns false. */
  takeOnLink(waiter: BudgetWaiter): boolean {
    if (this.onLink >= this.onLinkAllowance) return this.wait(this.waitingOnLink, waiter);
    this.onLink += 1;
    return true;
  }

  /**
   * An on-link target is finished; its neighbour entry may still be resolving until `firstSentAt` (performance.now)
   * + NEIGHBOUR_RESOLVE_MS, so its room comes back then.
   */
  onLinkDone(firstSentAt: number | undefined): void {
    if (this.onLinkAllowance < this.limits.maxOnLink) this.onLinkAllowance += 1;
    const holdMs = firstSentAt === undefined ? 0 : firstSentAt + NEIGHBOUR_RESOLVE_MS - performance.now();
    if (holdMs <= 0) {
      this.onLink -= 1;
      this.scheduleOnLinkWake();
      return;
    }
    const timer = setTimeout(() => {
      this.releaseTimers.delete(timer);
      this.onLink -= 1;
      this.scheduleOnLinkWake();
    }, Math.ceil(holdMs));
    timer.unref();
    this.releaseTimers.add(timer);
  }

  /** The kernel ran short of buffers (ENOBUFS): send to fewer on-link targets at once for a while. */
  congested(): void {
    this.lastCongestionAt = performance.now();
    this.onLinkAllowance = Math.max(MIN_ON_LINK, Math.floor(this.onLinkAllowance / 2));
  }

  close(): void {
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    for (const timer of this.releaseTimers) clearTimeout(timer);
    this.releaseTimers.clear();
    this.waiting.clear();
    this.waitingOnLink.clear();
  }

  private wait(line: WaiterLine, waiter: BudgetWaiter): false {
    line.push(waiter);
    return false;
  }

  private scheduleOnLinkWake(): void {
    if (this.onLinkWakeScheduled || this.waitingOnLink.length === 0) return;
    this.onLinkWakeScheduled = true;
    setImmediate(() => {
      this.onLinkWakeScheduled = false;
      for (let turns = this.waitingOnLink.length; turns > 0 && this.onLink < this.onLinkAllowance; turns -= 1) {
        this.waitingOnLink.shift()?.wake();
      }
    });
  }

  private armTokenTimer(): void {
    if (this.tokenTimer) return;
    this.tokenTimer = setTimeout(() => {
      this.tokenTimer = undefined;
      this.wakeWaiters();
    }, this.bucket.waitMs());
  }

  private scheduleWake(): void {
    if (this.wakeScheduled || this.waiting.length === 0) return;
    this.wakeScheduled = true;
    // After the callbacks of this turn: a burst of replies wakes the line once, not once per reply.
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wakeWaiters();
    });
  }

  /**
   * Wakes waiters in turn while there is room; each one takes what it can and, if still short, waits again (and
   * arms what will wake it). What stops the turn decides what wakes the line next: a probe's end, or a token.
   */
  private wakeWaiters(): void {
    for (let turns = this.waiting.length; turns > 0 && this.waiting.length > 0; turns -= 1) {
      if (this.inFlight >= this.limits.maxInFlight) return;
      if (!this.bucket.ready()) {
        this.armTokenTimer();
        return;
      }
      const waiter = this.waiting.shift();
      if (!waiter) return;
      waiter.wake();
    }
  }
}
