import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnoseUnusableV6 } from '../../src/core/diagnosis.js';

describe('diagnoseUnusableV6', () => {
  it('refuses link-local (fe80::/10) and multicast (ff00::/8) addresses, in any case and spelling', () => {
    for (const address of ['fe80::1', 'FE80::1', 'febf:ffff::1', 'fe80:0:0:0:0:0:0:1']) {
      assert.match(diagnoseUnusableV6(address)?.reason ?? '', /link-local/, address);
    }
    for (const address of ['ff02::1', 'ff00::', 'FF0E::1:2', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']) {
      assert.match(diagnoseUnusableV6(address)?.reason ?? '', /multicast/, address);
    }
    const reporter = diagnoseUnusableV6('ff02::1');
    assert.deepEqual([reporter?.verdict, reporter?.address, reporter?.errno], ['unreachable', 'local', 'EINVAL']);
  });

  it('lets every other address through, those that only look alike included', () => {
    for (const address of ['2001:db8::1', '::1', '::', 'fec0::1', 'fe7f::1', 'fe8::1', 'ff::1', 'ff0::1', 'fc00::1', '::ffff:10.0.0.1']) {
      assert.equal(diagnoseUnusableV6(address), undefined, address);
    }
  });
});
