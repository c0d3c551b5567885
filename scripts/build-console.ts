#!/usr/bin/env node
// Builds the operator console (platform/console) into dist/console with
// esbuild: one ES module bundle (Preact, Leaflet, the app) and its CSS for the
// first load, mpegts.js as a chunk loaded only when a visit is played, and
// index.html. Reports the page weight (the page, JS and CSS of the first load, gzip) and
// fails when it is over the budget. Run by `npm run build` after tsc.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The first load must stay under this (gzip, without map tiles). */
const BUDGET_BYTES = 500 * 1024;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(root, 'platform', 'console');
const out = join(root, 'dist', 'console');

interface Metafile {
  outputs: Record<string, { bytes: number; imports: Array<{ path: string; kind: string }>; entryPoint?: string; cssBundle?: string }>;
}

async function main(): Promise<number> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    process.stderr.write('build-console: esbuild is not installed; run npm install (it is a devDependency)\n');
    return 1;
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { console: join(src, 'app', 'main.tsx') },
    bundle: true,
    format: 'esm',
    splitting: true,
    minify: true,
    sourcemap: false,
    target: ['chrome100', 'firefox100', 'safari15'],
    outdir: out,
    chunkNames: 'chunk-[hash]',
    tsconfig: join(src, 'tsconfig.json'),
    jsx: 'automatic',
    jsxImportSource: 'preact',
    loader: { '.png': 'dataurl', '.svg': 'dataurl' },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  copyFileSync(join(src, 'index.html'), join(out, 'index.html'));

  // The first load: the entry, what it imports statically, its CSS, the page.
  const meta = result.metafile as unknown as Metafile;
  const first = new Set<string>();
  const visit = (p: string) => {
    if (first.has(p)) return;
    first.add(p);
    const o = meta.outputs[p];
    for (const i of o?.imports ?? []) if (i.kind === 'import-statement') visit(i.path);
    if (o?.cssBundle !== undefined) visit(o.cssBundle);
  };
  const entry = Object.keys(meta.outputs).find((p) => meta.outputs[p].entryPoint !== undefined && p.endsWith('.js'));
  if (entry === undefined) throw new Error('esbuild produced no entry bundle');
  visit(entry);
  const files = [...Object.keys(meta.outputs).map((p) => join(root, p)), join(out, 'index.html')].map((path) => {
    const body = readFileSync(path);
    const name = relative(out, path);
    return { name, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length, firstLoad: name === 'index.html' || first.has(relative(root, path)) };
  });
  const sum = (xs: typeof files, k: 'bytes' | 'gzip') => xs.reduce((n, f) => n + f[k], 0);
  const firstFiles = files.filter((f) => f.firstLoad);
  const lazy = files.filter((f) => !f.firstLoad);
  const report = {
    firstLoad: { bytes: sum(firstFiles, 'bytes'), gzip: sum(firstFiles, 'gzip'), files: firstFiles.map((f) => f.name) },
    lazy: { bytes: sum(lazy, 'bytes'), gzip: sum(lazy, 'gzip'), files: lazy.map((f) => f.name) },
    budgetGzip: BUDGET_BYTES,
    files,
  };
  writeFileSync(join(out, 'weight.json'), `${JSON.stringify(report, null, 2)}\n`);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  process.stdout.write(`console: first load ${kb(report.firstLoad.gzip)} gzip (${kb(report.firstLoad.bytes)} raw: the page, JS and CSS, no map tiles), budget ${kb(BUDGET_BYTES)}; loaded for playback ${kb(report.lazy.gzip)} gzip\n`);
  if (report.firstLoad.gzip > BUDGET_BYTES) {
    process.stderr.write(`build-console: the console's first load is ${kb(report.firstLoad.gzip)} gzip, over its ${kb(BUDGET_BYTES)} budget\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main().catch((err: Error) => {
  process.stderr.write(`build-console: ${err.message}\n`);
  return 1;
});
