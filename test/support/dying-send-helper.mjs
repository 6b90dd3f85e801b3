// A send helper that says it is ready, takes orders without ever sending them, and dies after the 200th:
// every order it took is unconfirmed, so the echo prober must send them itself.
let orders = 0;
let initSeen = false;
process.stdin.on('data', (chunk) => {
  let offset = 0;
  if (!initSeen) {
    initSeen = true;
    offset = 11; // INIT frame
    const ready = Buffer.alloc(12);
    ready[0] = 11;
    process.stdout.write(ready);
  }
  while (offset + 9 <= chunk.length) {
    offset += 9 + chunk[offset + 8];
    orders += 1;
  }
  if (orders >= 200) process.exit(3);
});
