import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WaitTimeoutError, quietFor, until, waitFor } from './wait.js';

/** Runs `wait`, expects it to time out, and returns the error. */
async function timeout(wait: Promise<unknown>): Promise<WaitTimeoutError> {
  const error = await wait.then(
    () => assert.fail('the wait should have timed out'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof WaitTimeoutError, String(error));
  assert.equal(error.code, 'WAIT_TIMEOUT');
  return error;
}

describe('until', () => {
  it('resolves once a sync or an async check is truthy', async () => {
    let calls = 0;
    await until('the third call', () => (calls += 1) >= 3, { everyMs: 1 });
    assert.equal(calls, 3);
    let asyncCalls = 0;
    await until('the second async call', async () => (asyncCalls += 1) >= 2, { everyMs: 1 });
    assert.equal(asyncCalls, 2);
  });

  it('calls a check that threw again, and resolves when it then holds', async () => {
    let calls = 0;
    await until(
      'a check that throws once',
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not yet');
        return true;
      },
      { everyMs: 1 },
    );
    assert.equal(calls, 2);
  });

  it('fails naming what it waited for, the last value and what `show` gives', async () => {
    const error = await timeout(until('the moon', () => 0, { timeoutMs: 30, everyMs: 5, show: async () => 'calls: none' }));
    assert.equal(error.message, 'timed out after 30 ms waiting for the moon: the last check gave 0; calls: none');
  });

  it('fails naming the last exception, kept as the cause', async () => {
    const thrown = new Error('ECONNREFUSED');
    const error = await timeout(
      until(
        '/readyz',
        () => {
          throw thrown;
        },
        { timeoutMs: 30, everyMs: 5 },
      ),
    );
    assert.equal(error.message, 'timed out after 30 ms waiting for /readyz: the last check threw ECONNREFUSED');
    assert.equal(error.cause, thrown);
  });
});

describe('waitFor', () => {
  it('resolves with the first value that is not undefined, falsy ones included', async () => {
    const values = [undefined, undefined, 0];
    assert.equal(await waitFor('a count', () => values.shift(), { everyMs: 1 }), 0);
    assert.deepEqual(await waitFor('a record', async () => ({ id: 'w1' }), { everyMs: 1 }), { id: 'w1' });
  });

  it('fails naming what it waited for when nothing came', async () => {
    const error = await timeout(waitFor('the report', () => undefined, { timeoutMs: 30, everyMs: 5 }));
    assert.equal(error.message, 'timed out after 30 ms waiting for the report: the last check gave undefined');
  });
});

describe('quietFor', () => {
  it('lets the time pass', async () => {
    let fired = false;
    const timer = setTimeout(() => (fired = true), 5);
    await quietFor(50);
    clearTimeout(timer);
    assert.equal(fired, true);
  });
});
