/**
 * Child processes run as plain JavaScript, not under tsx: tsx's loader adds ~27 MB of RSS (measured:
 * 90 MB vs 63 MB for a script importing mqtt and better-sqlite3), which would be charged to the baselines.
 * We transpile bench/ (no type check; `npm run check` does that) into a temp dir whose node_modules is a
 * symlink to the repo's, so bare imports resolve as they would in place.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export interface CompiledBench {
  /** Absolute path of the compiled counterpart of a bench/ source path like 'baselines/transport.ts'. */
  readonly path: (benchRelative: string) => string;
  readonly dispose: () => void;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'results') out.push(...listTs(p));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export function compileBench(benchDir: string, repoDir: string): CompiledBench {
  const outDir = mkdtempSync(join(tmpdir(), 'mqlite-bench-js-'));
  symlinkSync(join(repoDir, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  for (const file of listTs(benchDir)) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
    });
    const target = join(outDir, relative(benchDir, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  return {
    path: (p) => join(outDir, p.replace(/\.ts$/, '.js')),
    dispose: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
