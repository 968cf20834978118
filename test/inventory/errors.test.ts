import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { INVENTORY_ERROR_STATUS, InventoryError, InventoryErrorCode } from '../../src/inventory/errors.js';
import { RESOURCES } from '../../src/inventory/resources.js';

describe('inventory error codes', () => {
  it('are unique, prefixed INVENTORY_ERR_, and each maps to an HTTP status', () => {
    const codes = Object.values(InventoryErrorCode);
    assert.equal(new Set(codes).size, codes.length);
    for (const c of codes) {
      assert.match(c, /^INVENTORY_ERR_[A-Z_]+$/);
      assert.ok([400, 403, 404, 409, 412, 422].includes(INVENTORY_ERROR_STATUS[c]), c);
    }
    assert.deepEqual(Object.keys(INVENTORY_ERROR_STATUS).sort(), [...codes].sort());
  });

  it('takes the shared code of its issues, else MULTIPLE, and the most severe status', () => {
    const one = new InventoryError([
      { code: InventoryErrorCode.U_OVERLAP, path: '[0].u_position', message: 'a' },
      { code: InventoryErrorCode.U_OVERLAP, path: '[2].u_position', message: 'b' },
    ]);
    assert.equal(one.code, InventoryErrorCode.U_OVERLAP);
    assert.equal(one.status, 409);
    const mixed = new InventoryError([
      { code: InventoryErrorCode.INVALID_VALUE, path: 'tier', message: 'a' },
      { code: InventoryErrorCode.NOT_FOUND, path: 'id', message: 'b' },
    ]);
    assert.equal(mixed.code, InventoryErrorCode.MULTIPLE);
    assert.equal(mixed.status, 404);
  });

  it('every non-nullable, non-required field has a default, so a create never writes a null into it', () => {
    for (const r of RESOURCES) {
      for (const [name, f] of Object.entries(r.fields as Record<string, { required?: boolean; nullable?: boolean; default?: unknown }>)) {
        if (f.required !== true && f.nullable !== true) assert.notEqual(f.default, undefined, `${r.name}.${name}`);
      }
    }
  });
});
