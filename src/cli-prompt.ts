/**
 * Reading a password for `hash-password`: from a terminal with a prompt on stderr and nothing
 * echoed, asked twice; from a pipe as is (`echo -n secret | mqlite hash-password`).
 */
import { MqliteError } from './lib/errors.js';

export async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return readAll();
  // Raw mode before the first prompt and across both: keys typed early are not echoed either.
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  try {
    const first = await promptHidden('Password: ');
    const again = await promptHidden('Again: ');
    if (first !== again) throw new MqliteError('MQLITE_USAGE', 'hash-password: the two passwords differ');
    return first;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** In raw mode the terminal does not echo, and each key arrives as typed. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.resume();
  let typed = '';
  return new Promise<string>((resolve, reject) => {
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          return;
        }
        if (ch === '\u0003') {
          done(new MqliteError('MQLITE_USAGE', 'hash-password: interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}
