import type { ResolvedTftpRemapRule } from '../config/defaults.js';
import { cidrContains, parseCidr } from '../net/ipv4.js';
import type { Cidr, Ipv4 } from '../net/ipv4.js';

interface CompiledRule {
  readonly re: RegExp;
  readonly replace: string;
  readonly stop: boolean;
  readonly lowercase: boolean;
  readonly client: Cidr | undefined;
}

/**
 * File name rewriting as tftpd-hpa's -m rules: each rule, in order, that
 * matches the name (and whose `client` network holds the client) replaces
 * its match; "e" ends the walk. Rules run before the jail checks the name,
 * so a rewrite can never produce a path the jail would refuse from a client.
 */
export class TftpRemapper {
  private readonly rules: readonly CompiledRule[];

  /** Rules come from a validated configuration; an invalid regex throws here (a bug upstream). */
  constructor(rules: readonly ResolvedTftpRemapRule[]) {
    this.rules = rules.map((r) => ({
      re: new RegExp(r.match, (r.flags.includes('g') ? 'g' : '') + (r.flags.includes('i') ? 'i' : '')),
      replace: r.replace,
      stop: r.flags.includes('e'),
      lowercase: r.lowercase,
      client: r.client === undefined ? undefined : parseCidr(r.client),
    }));
  }

  get size(): number {
    return this.rules.length;
  }

  /** The rewritten name; `clientIp` undefined (an IPv6 client) matches only rules without `client`. */
  apply(name: string, clientIp: Ipv4 | undefined): string {
    let out = name;
    for (const rule of this.rules) {
      if (rule.client !== undefined && (clientIp === undefined || !cidrContains(rule.client, clientIp))) continue;
      rule.re.lastIndex = 0;
      if (!rule.re.test(out)) continue;
      rule.re.lastIndex = 0;
      out = out.replace(rule.re, rule.replace);
      if (rule.lowercase) out = out.toLowerCase();
      if (rule.stop) break;
    }
    return out;
  }
}
