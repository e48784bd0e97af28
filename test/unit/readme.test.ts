import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FIELDS } from '../../src/config/schema.js';
import { METHOD_NAMES } from '../../src/methods/registry.js';
import { ROOT } from '../support/steward.js';

describe('the README', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('documents every flag with its default', () => {
    for (const f of FIELDS)
      assert.ok(
        readme.includes(`| \`-${f.flag}\` | \`${f.key}\` | ${f.type} | \`${JSON.stringify(f.default)}\``),
        `README row for -${f.flag}`,
      );
  });

  it('documents every method', () => {
    for (const m of METHOD_NAMES) assert.ok(readme.includes(`| \`${m}\` |`), `README row for ${m}`);
  });
});
