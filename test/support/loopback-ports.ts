import net from 'node:net';

export interface LoopbackPorts {
  /** A listener on 127.0.0.1 that closes every connection it accepts. */
  openPort: number;
  /** A port that was free a moment ago: nothing listens on it now, so a connect is refused. */
  closedPort: number;
  close(): Promise<void>;
}

export async function loopbackPorts(): Promise<LoopbackPorts> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return {
    openPort: (server.address() as net.AddressInfo).port,
    closedPort,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TCP port on a loopback address that a test opens and closes: open answers SYN-ACK, closed answers RST. */
export class Listener {
  private server: net.Server | undefined;
  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  async open(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port: this.port, exclusive: true }, resolve);
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
