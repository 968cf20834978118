import { createServer } from 'node:net';
import { Writable } from 'node:stream';

/** A TCP port free on 127.0.0.1 right now (for an API listen address in a test). */
export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A pino destination that keeps every JSON log line as an object, for assertions on what was logged. */
export function jsonLogSink(): { readonly logs: Record<string, unknown>[]; readonly sink: Writable } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logs, sink };
}
