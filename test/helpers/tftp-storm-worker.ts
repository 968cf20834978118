/**
 * Runs a TFTP storm (runStorm) and prints its summary as one JSON line. It is
 * started inside the client namespace (`ip netns exec NS node this-file
 * JSON`), where the test process itself cannot open sockets.
 *
 * argv[2]: the StormOptions as JSON.
 */
import type { StormOptions } from './tftp-raw-client.js';
import { runStorm } from './tftp-raw-client.js';

const arg = process.argv[2];
if (arg === undefined) {
  process.stderr.write('usage: tftp-storm-worker \'{"server":"10.0.0.1","files":["f"],"clients":10}\'\n');
  process.exit(2);
}
const opts = JSON.parse(arg) as StormOptions;
const summary = await runStorm(opts);
process.stdout.write(`${JSON.stringify(summary)}\n`);
