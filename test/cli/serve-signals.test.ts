/**
 * `dcplane serve` and the signals service managers send while it is still
 * starting: a SIGTERM stops it cleanly (exit 0, "stopping" logged) and a
 * SIGHUP does not kill it. Both are sent at the first log line of the start,
 * so they land while the services are being opened. No root needed: the
 * embedded defaults serve only the API, on a free port.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { freeTcpPort } from '../helpers/app-fixtures.js';
import { dcplaneNodeArgs } from '../helpers/cli.js';

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly log: string;
}

/** Starts `dcplane serve`, sends `signals` in order at the first log line, then (unless one was SIGTERM) SIGTERM once it says the API is ready. */
function serveAndSignal(dir: string, config: string, signals: readonly NodeJS.Signals[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, dcplaneNodeArgs(['serve', '--config', config, '--data-dir', join(dir, 'data')]), {
      env: { ...process.env, DCPLANE_ADMIN_PASSWORD: 'signals-test-password-1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    let sent = false;
    // A SIGTERM of the start must stop dcplane on its own: no second one is sent, so one that was dropped
    // leaves the process running into the 60 s timer and fails the test.
    let terminated = signals.includes('SIGTERM');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dcplane serve did not finish:\n${log}`));
    }, 60_000);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (!sent && log.includes('"msg"')) {
        sent = true;
        for (const s of signals) child.kill(s);
      }
      if (!terminated && log.includes('api ready')) {
        terminated = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, log });
    });
  });
}

describe('dcplane serve and signals during its start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dcplane-signals-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a SIGTERM during the start stops dcplane cleanly once it has started; a SIGHUP does not kill it', async () => {
    const config = join(dir, 'dcplane.json');
    writeFileSync(config, JSON.stringify({ api: { listen: `127.0.0.1:${await freeTcpPort()}` } }));
    const hup = await serveAndSignal(dir, config, ['SIGHUP']);
    assert.equal(hup.signal, null, `killed by ${hup.signal}:\n${hup.log}`);
    assert.equal(hup.code, 0, hup.log);
    assert.match(hup.log, /configuration reloaded/, 'the SIGHUP of the start is applied once started');

    const term = await serveAndSignal(dir, config, ['SIGTERM']);
    assert.equal(term.signal, null, `killed by ${term.signal}:\n${term.log}`);
    assert.equal(term.code, 0, term.log);
    assert.match(term.log, /"signal":"SIGTERM".*"msg":"stopping"/);
    assert.ok(term.log.indexOf('api ready') < term.log.indexOf('"msg":"stopping"'), `stopped before it had started:\n${term.log}`);
  });
});
