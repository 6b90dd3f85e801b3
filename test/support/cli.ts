import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url));

/**
 * `node`, the Node flags of the executable's shebang line, and the executable: the CLI as `npx zensweep` starts it
 * (its code cache is made for those flags).
 */
export function cliCommand(): string[] {
  return [process.execPath, ...cliNodeFlags(), CLI];
}

/** The Node flags on the executable's shebang line. */
export function cliNodeFlags(): string[] {
  const shebang = readFileSync(CLI, 'utf8').split('\n', 1)[0] ?? '';
  return shebang.split(/\s+/).filter((word) => word.startsWith('--'));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to the end and collects its output; kills it after `timeoutMs` (generous, never a speed check). */
export function run(argv: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    if (!command) throw new Error('empty argv');
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `node dist/cli.cjs …` */
export function zensweep(args: string[], options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  return run([...cliCommand(), ...args], options);
}
