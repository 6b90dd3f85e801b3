import assert from 'node:assert/strict';

/** Tests that open raw sockets or namespaces need root: without it they fail, loudly, rather than skip. */
export function assertRoot(): void {
  assert.equal(
    process.getuid?.(),
    0,
    'these tests need root (raw ICMP sockets, network namespaces); run them as root, as CI does',
  );
}
