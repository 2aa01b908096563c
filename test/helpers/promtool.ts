/**
 * Runs Debian's promtool (package `prometheus`) against a server, as a user would. A missing
 * binary fails the test loudly: .ci/run installs it.
 */
import { execFile } from 'node:child_process';

export interface PromtoolRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function promtool(args: string[], stdin?: string): Promise<PromtoolRun> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(
          new Error('promtool not found: install Debian package "prometheus" (apt-get install prometheus)'),
        );
        return;
      }
      const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** `promtool query … -o json`: the `data.result` of Prometheus's answer. */
export async function promtoolJson<T>(args: string[]): Promise<T> {
  const r = await promtool([...args.slice(0, 2), '-o', 'json', ...args.slice(2)]);
  if (r.code !== 0) throw new Error(`promtool ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
