#!/usr/bin/env node
// `npm start` runs this first: compile only when dist/ is missing or older than its sources, so a
// start from what is built takes no tsc pass (~8 s on a small machine) and a fresh clone still builds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const inputs = ['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => join(root, f));

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Why a build is needed, or undefined when dist/ is current. */
function staleReason() {
  if (!existsSync(join(dist, 'cli.js'))) return 'no build yet';
  const sources = walk(src).filter((f) => f.endsWith('.ts'));
  let oldestOutput = Number.POSITIVE_INFINITY;
  for (const f of sources) {
    const out = join(dist, relative(src, f)).replace(/\.ts$/, '.js');
    if (!existsSync(out)) return `${relative(root, f)} not built`;
    oldestOutput = Math.min(oldestOutput, statSync(out).mtimeMs);
  }
  // The status page's static files, copied into dist/ by scripts/copy-status-assets.mjs.
  const page = join(src, 'observe/status-page');
  if (existsSync(page)) {
    for (const f of readdirSync(page)) {
      const out = join(dist, 'observe/status-page', f);
      if (!existsSync(out) || statSync(join(page, f)).mtimeMs > statSync(out).mtimeMs)
        return `${relative(root, join(page, f))} not copied`;
    }
  }
  const newer = [...sources, ...inputs].find((f) => existsSync(f) && statSync(f).mtimeMs > oldestOutput);
  return newer ? `${relative(root, newer)} changed` : undefined;
}

const reason = staleReason();
if (reason) {
  process.stderr.write(`mqlite: building (${reason})…\n`);
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  const copy = spawnSync(process.execPath, [join(root, 'scripts/copy-status-assets.mjs')], { stdio: 'inherit' });
  process.exit(copy.status ?? 1);
}
