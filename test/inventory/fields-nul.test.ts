import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkValue } from '../../src/inventory/fields.js';

describe('NUL characters in values (PostgreSQL text and jsonb cannot hold them)', () => {
  it('are refused in text and anywhere inside JSON, keys included, with the field path', () => {
    for (const [kind, value] of [
      ['text', 'a\u0000'],
      ['json', { a: ['x', { b: 'y\u0000' }] }],
      ['json', { 'k\u0000': 1 }],
    ] as const) {
      const r = checkValue({ kind }, value, 'body.f');
      assert.equal(r.ok, false, JSON.stringify(value));
      if (!r.ok) assert.equal(r.issue.path, 'body.f');
    }
    assert.equal(checkValue({ kind: 'json', items: 'text' }, ['ok', '\u0000'], 'body.l').ok, false);
    assert.equal(checkValue({ kind: 'json' }, { a: '\\u0000 is fine as text' }, 'body.f').ok, true);
    assert.equal(checkValue({ kind: 'text' }, 'plain', 'body.f').ok, true);
  });
});
