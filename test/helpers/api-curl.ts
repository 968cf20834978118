/**
 * dcplane's HTTP API reached with curl from inside a namespace: when the API
 * listens on an address only the test's namespaces have, the requests are
 * made where a host (or an operator's workstation) on that link would make
 * them.
 */
import type { Topology } from './netns.js';

export interface CurlReply {
  readonly status: number;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

export interface CurlApi {
  /** Logs in as `username` and keeps the access token for later calls. */
  login(username: string, password: string): Promise<CurlReply>;
  /** One request; with `auth` (default) the bearer of the last login. */
  http(method: string, path: string, body?: unknown, auth?: boolean): Promise<CurlReply>;
}

export function curlApi(topo: Topology, ns: string, base: string): CurlApi {
  let token = '';
  const http = async (method: string, path: string, body?: unknown, auth = true): Promise<CurlReply> => {
    const args = ['-sS', '-o', '-', '-w', '\n%{http_code}', '-X', method, `${base}${path}`];
    if (auth) args.push('-H', `authorization: Bearer ${token}`);
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    const r = await topo.exec(ns, 'curl', args, { timeoutMs: 20_000 });
    const cut = r.stdout.lastIndexOf('\n');
    const text = r.stdout.slice(0, cut);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: Number(r.stdout.slice(cut + 1)), text, json };
  };
  return {
    http,
    async login(username, password) {
      const r = await http('POST', '/api/v1/auth/token', { username, password }, false);
      if (r.status === 200) token = String(r.json.access_token);
      return r;
    },
  };
}
