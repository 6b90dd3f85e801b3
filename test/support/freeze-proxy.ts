/**
 * A TCP relay in front of a redis-server that can leave a connection half-open: while `freezing` is on, a connection
 * that carries a BZPOPMIN (a BullMQ worker's blocking connection waiting for work) stops being relayed either way,
 * with no FIN and no RST. Its client sees what a dropped NAT entry or a dead peer looks like: a connection that is up
 * and never answers. Other connections go on being relayed, so the process still writes heartbeats and answers PING.
 *
 * ```ts
 * const proxy = await FreezeProxy.start(redis.port);
 * proxy.freezing = true; // the next BZPOPMIN of each connection goes nowhere
 * proxy.freezing = false; // new connections work again; frozen ones stay frozen
 * ```
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/** BZPOPMIN as RESP sends it: a bulk string of 8 bytes (ioredis writes command names in lower case). */
const BLOCKING_COMMAND = /\$8\r\nbzpopmin\r\n/i;

export class FreezeProxy {
  /** Whether a connection that sends BZPOPMIN from now on is frozen. */
  freezing = false;
  /** Connections frozen so far. */
  frozen = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(redisPort: number): Promise<FreezeProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new FreezeProxy(server, port);
    server.on('connection', (client: Socket) => proxy.relay(client, redisPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return proxy;
  }

  private relay(client: Socket, redisPort: number): void {
    const server = createConnection({ host: '127.0.0.1', port: redisPort });
    let frozen = false;
    for (const socket of [client, server]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        // A frozen connection stays up on both sides (that is the point); a closed one closes its other half.
        if (!frozen) (socket === client ? server : client).destroy();
      });
    }
    client.on('data', (data: Buffer) => {
      if (frozen) return;
      if (this.freezing && BLOCKING_COMMAND.test(data.toString('latin1'))) {
        frozen = true;
        this.frozen += 1;
        return;
      }
      server.write(data);
    });
    server.on('data', (data: Buffer) => {
      if (!frozen) client.write(data);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
