import { describe, it, before, after } from 'node:test';
import { strict as assert } from 'node:assert';
import { closeSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { TftpJail, TftpJailErrorCode, refusalErrorCode } from '../../src/tftp/jail.js';
import type { JailedName } from '../../src/tftp/jail.js';

let base: string;
let root: string;
let jail: TftpJail;

function name(text: string): JailedName {
  const c = jail.check(text);
  assert.ok(c.ok, `${text} refused: ${c.ok ? '' : c.reason}`);
  return c.name;
}

function refused(text: string): string {
  const c = jail.check(text);
  assert.ok(!c.ok, `${text} accepted`);
  return c.reason;
}

describe('TftpJail', () => {
  before(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'dcplane-jail-')));
    root = join(base, 'root');
    mkdirSync(join(root, 'pxelinux.cfg'), { recursive: true });
    writeFileSync(join(root, 'pxelinux.0'), 'pxe');
    writeFileSync(join(root, 'pxelinux.cfg', 'default'), 'menu');
    writeFileSync(join(base, 'secret'), 'outside');
    symlinkSync(join(base, 'secret'), join(root, 'escape'));
    symlinkSync('pxelinux.0', join(root, 'inside-link'));
    symlinkSync(base, join(root, 'dir-escape'));
    jail = new TftpJail(root);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('refuses a root that does not exist, with a code', () => {
    assert.throws(() => new TftpJail(join(base, 'nope')), (e: { code?: string }) => e.code === TftpJailErrorCode.ROOT_UNUSABLE);
    assert.throws(() => new TftpJail(join(root, 'pxelinux.0')), (e: { code?: string }) => e.code === TftpJailErrorCode.ROOT_UNUSABLE);
  });

  it('reads names relative to the root; one leading slash and the root prefix are stripped', () => {
    assert.deepEqual(name('pxelinux.0'), { relative: 'pxelinux.0', leadingSlash: false });
    assert.deepEqual(name('/pxelinux.0'), { relative: 'pxelinux.0', leadingSlash: true });
    assert.deepEqual(name(`${root}/pxelinux.cfg/default`), { relative: 'pxelinux.cfg/default', leadingSlash: false });
    assert.deepEqual(name('pxelinux.cfg//./default'), { relative: 'pxelinux.cfg/default', leadingSlash: false });
  });

  it('refuses .., control characters, backslashes and double-slash absolute paths lexically', () => {
    assert.equal(refused('../secret'), 'dot_dot');
    assert.equal(refused('pxelinux.cfg/../../secret'), 'dot_dot');
    assert.equal(refused('/..'), 'dot_dot');
    assert.equal(refused('a\u0001b'), 'control_char');
    assert.equal(refused('a\nb'), 'control_char');
    assert.equal(refused('boot\\x64\\wdsnbp.com'), 'backslash');
    assert.equal(refused('//etc/passwd'), 'absolute');
    assert.equal(refused('/'), 'not_file');
    assert.equal(refused(''), 'empty');
  });

  it('opens files inside the root, including through links that stay inside', () => {
    const o = jail.openRead(name('inside-link'));
    assert.ok(o.ok);
    assert.equal(o.file.path, join(root, 'pxelinux.0'));
    assert.equal(o.file.stat.size, 3n);
    closeSync(o.file.fd);
  });

  it('refuses symbolic links that lead outside the root', () => {
    const o = jail.openRead(name('escape'));
    assert.deepEqual(o, { ok: false, reason: 'escape' });
    const d = jail.openRead(name('dir-escape/secret'));
    assert.deepEqual(d, { ok: false, reason: 'escape' });
  });

  it('reports missing files, directories and special files', () => {
    assert.deepEqual(jail.openRead(name('missing')), { ok: false, reason: 'not_found' });
    assert.deepEqual(jail.openRead(name('pxelinux.0/x')), { ok: false, reason: 'not_found' });
    assert.deepEqual(jail.openRead(name('pxelinux.cfg')), { ok: false, reason: 'not_file' });
    const fifo = join(root, 'fifo');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      return;
    }
    assert.deepEqual(jail.openRead(name('fifo')), { ok: false, reason: 'not_file' });
  });

  it('maps refusals to ERROR 1 or 2; a leading-slash name missing from the root is an absolute path: 2', () => {
    assert.equal(refusalErrorCode('not_found', name('missing')), 1);
    assert.equal(refusalErrorCode('not_found', name('/etc/passwd')), 2);
    for (const r of ['dot_dot', 'escape', 'control_char', 'backslash', 'absolute', 'not_file', 'unreadable'] as const) assert.equal(refusalErrorCode(r), 2, r);
  });

  it('places uploads in existing directories inside the jail, never through links', () => {
    const t = jail.writeTarget(name('pxelinux.cfg/new'));
    assert.deepEqual(t, { ok: true, dir: join(root, 'pxelinux.cfg'), path: join(root, 'pxelinux.cfg', 'new'), exists: false });
    assert.deepEqual(jail.writeTarget(name('pxelinux.0')), { ok: true, dir: root, path: join(root, 'pxelinux.0'), exists: true });
    assert.deepEqual(jail.writeTarget(name('no-dir/file')), { ok: false, reason: 'not_found' });
    assert.deepEqual(jail.writeTarget(name('escape')), { ok: false, reason: 'escape' });
    assert.deepEqual(jail.writeTarget(name('dir-escape/new')), { ok: false, reason: 'escape' });
    assert.deepEqual(jail.writeTarget(name('pxelinux.cfg')), { ok: false, reason: 'not_file' });
  });
});
