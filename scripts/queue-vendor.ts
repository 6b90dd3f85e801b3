// The entry of the queue-vendor bundle (scripts/bundle.mjs): one copy of each, and BullMQ uses this ioredis.
import * as bullmq from 'bullmq';
import * as ioredis from 'ioredis';

export { bullmq, ioredis };
