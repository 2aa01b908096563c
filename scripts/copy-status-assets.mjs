#!/usr/bin/env node
// `npm run build`, after tsc: the status page's static files and uPlot's minified script and
// styles go into dist/, so the daemon serves every asset itself (no CDN, no node_modules at run time).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src/observe/status-page');
const to = join(root, 'dist/observe/status-page');
const require = createRequire(import.meta.url);
mkdirSync(to, { recursive: true });
for (const f of readdirSync(from)) copyFileSync(join(from, f), join(to, f));
for (const f of ['uPlot.iife.min.js', 'uPlot.min.css']) copyFileSync(require.resolve(`uplot/dist/${f}`), join(to, f));
