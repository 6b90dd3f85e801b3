/**
 * A long-running `node dist/cli.cjs …` process (an agent, a bot), its output kept for assertions and for the
 * message of a failing test, killed if the test process exits without stopping it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliCommand } from './cli.js';

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Everything it wrote so far (pino JSON lines and any stderr). */
  log(): string;
  /** What it wrote so far on stdout alone. */
  stdout(): string;
  /** What it wrote so far on stderr alone. */
  stderr(): string;
  /** Resolves with the exit code once the process is gone. */
  readonly exited: Promise<number | null>;
  /** SIGTERM and wait; SIGKILL if it has not exited after `graceMs` (default 20 s). Safe to call twice. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL and wait: a crash, no shutdown work. */
  kill(): Promise<void>;
}

/** Every line of both streams of a service that is not one JSON object (a service writes nothing else). */
export function notJsonLines(service: Pick<ServiceProcess, 'stdout' | 'stderr'>): string[] {
  return `${service.stdout()}\n${service.stderr()}`.split('\n').filter((line) => {
    if (line === '') return false;
    try {
      const value = JSON.parse(line) as unknown;
      return typeof value !== 'object' || value === null || Array.isArray(value);
    } catch {
      return true;
    }
  });
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * @param netns run it inside this network namespace (a lab's sweeper, `lab.sweeperNs`): `ip netns exec` replaces
 *   itself with the service, so signals reach the service itself.
 * @param wrapper a command that runs the service's command line, given as its last arguments, and replaces itself
 *   with it (`exec`), e.g. `setpriv … --`: signals reach the service itself.
 */
export function spawnService(args: string[], env: NodeJS.ProcessEnv, netns?: string, wrapper: readonly string[] = []): ServiceProcess {
  const argv = [...wrapper, ...cliCommand(), ...args];
  const [command, ...rest] = netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv];
  const child = spawn(command as string, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  // Each stream on its own too: their chunks interleave in `output`, where a line of one may be cut by the other.
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    exited,
    log: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(graceMs = 20_000) {
      if (gone()) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
  };
}
