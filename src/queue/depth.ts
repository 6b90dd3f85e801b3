import type { Queue } from 'bullmq';

/** How far behind a queue is: jobs by state, and how long its oldest waiting job has waited. */
export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
  /** Milliseconds the oldest waiting job has been in the queue; 0 when none waits. */
  oldestWaitingMs: number;
}

/** Reads a queue's depth (two round trips). */
export async function queueDepth(queue: Queue, now = Date.now()): Promise<QueueDepth> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
  // The wait list is pushed at its head: in ascending order the first job is the oldest.
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    oldestWaitingMs: oldest ? Math.max(0, now - oldest.timestamp) : 0,
  };
}
