// Builds the web console's front end (src/web/assets) into dist/web/assets: app.js (Preact and
// the pages, bundled and minified by esbuild from the npm packages: no CDN, nothing fetched at
// run time), app.css and index.html. Run by `npm run build`.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src', 'web', 'assets');
const out = path.join(root, 'dist', 'web', 'assets');
fs.mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(src, 'main.tsx')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
await build({ entryPoints: [path.join(src, 'app.css')], outfile: path.join(out, 'app.css'), minify: true, logLevel: 'warning' });
fs.copyFileSync(path.join(src, 'index.html'), path.join(out, 'index.html'));
