import { readFileSync } from 'node:fs';
import { resolve as resolvePath, sep } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { OPTION_DEFS_BY_CODE, OPTION_DEFS_BY_NAME, SERVER_OWNED_OPTIONS } from '../dhcp/constants.js';
import type { OptionKind } from '../dhcp/constants.js';
import { encodeOptionValue } from '../dhcp/option-values.js';
import { formatIpv4, parseCidr, parseIpv4, parseRange, prefixToMask, rangesOverlap } from '../net/ipv4.js';
import type { Cidr, Ipv4, Ipv4Range } from '../net/ipv4.js';
import { DEFAULTS } from './defaults.js';
import { ConfigErrorCode, ROOT_PATH } from './errors.js';
import { schemaPath } from './schema-path.js';
import type { ConfigProblem } from './errors.js';
import type { DcplaneConfig } from './types.js';

export { formatProblem } from './errors.js';
export type { ConfigProblem } from './errors.js';

export type ValidationResult = { ok: true; config: DcplaneConfig } | { ok: false; problems: ConfigProblem[] };

type Seg = string | number;

interface Found {
  readonly segs: readonly Seg[];
  readonly code: string;
  readonly message: string;
}

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (compiled !== undefined) return compiled;
  const schema = JSON.parse(readFileSync(schemaPath(), 'utf8')) as object;
  // verbose: errors carry the data and the schema object they failed, which the messages below need.
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false });
  ajvFormats.default(ajv, ['ipv4']);
  // Annotations read by this module: the phrase a value should match and the problem code to report.
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-code', schemaType: 'string' });
  compiled = ajv.compile(schema);
  return compiled;
}

/** Formats a path as users read it: `dhcp.subnets[1].pools[0]`; the empty path is `(root)`. */
export function formatPath(segs: readonly Seg[]): string {
  if (segs.length === 0) return ROOT_PATH;
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(v: unknown, key: string): unknown {
  return isRecord(v) && Object.hasOwn(v, key) ? v[key] : undefined;
}

function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

/** Edit distance, for "did you mean" suggestions. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The closest candidate within edit distance 2, if any. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : `; did you mean "${s}"?`;
}

function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ---------------------------------------------------------------------------
// Schema errors → problems

function pointerToSegs(pointer: string, data: unknown): Seg[] {
  if (pointer === '') return [];
  const out: Seg[] = [];
  let cur = data;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const i = Number(part);
      out.push(i);
      cur = cur[i];
    } else {
      out.push(part);
      cur = get(cur, part);
    }
  }
  return out;
}

/** Keywords whose failure is about the value's form; only these take a schema's `x-code`. */
const VALUE_KEYWORDS = new Set(['pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength']);

function schemaProblem(e: ErrorObject, data: unknown): Found | undefined {
  const segs = pointerToSegs(e.instancePath, data);
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const expected = typeof parent['x-expected'] === 'string' ? parent['x-expected'] : undefined;
  const xcode = typeof parent['x-code'] === 'string' && VALUE_KEYWORDS.has(e.keyword) ? parent['x-code'] : undefined;
  const p = e.params as Record<string, unknown>;
  const value = e.data;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys(isRecord(parent.properties) ? parent.properties : {});
      const hint = didYouMean(key, known) || (known.length > 0 ? `; known keys here: ${known.join(', ')}` : '');
      return { segs: [...segs, key], code: ConfigErrorCode.UNKNOWN_KEY, message: `unknown key "${key}"${hint}` };
    }
    case 'required': {
      const key = String(p.missingProperty);
      return { segs: [...segs, key], code: ConfigErrorCode.MISSING_KEY, message: `required key "${key}" is missing` };
    }
    case 'type': {
      const want = expected ?? String(p.type).replace(/,/g, ' or ');
      return { segs, code: ConfigErrorCode.TYPE, message: `expected ${want}, found ${show(value)}` };
    }
    case 'enum': {
      const allowed = (Array.isArray(e.schema) ? e.schema : []).map(String);
      const want = expected ?? (allowed.length <= 12 ? `one of ${allowed.join(', ')}` : 'an allowed value');
      const hint = typeof value === 'string' ? didYouMean(value, allowed) : '';
      return { segs, code: ConfigErrorCode.ENUM, message: `${show(value)} is not ${want}${hint}` };
    }
    case 'minimum':
    case 'exclusiveMinimum':
      return { segs, code: xcode ?? ConfigErrorCode.OUT_OF_RANGE, message: `${show(value)} is less than the minimum ${String(p.limit)}` };
    case 'maximum':
    case 'exclusiveMaximum':
      return { segs, code: xcode ?? ConfigErrorCode.OUT_OF_RANGE, message: `${show(value)} is more than the maximum ${String(p.limit)}` };
    case 'minLength':
      return {
        segs,
        code: xcode ?? ConfigErrorCode.OUT_OF_RANGE,
        message: p.limit === 1 ? 'must not be empty' : `${show(value)} is shorter than ${String(p.limit)} characters`,
      };
    case 'maxLength':
      return { segs, code: xcode ?? ConfigErrorCode.OUT_OF_RANGE, message: `${show(value)} is longer than ${String(p.limit)} characters` };
    case 'minItems':
      return { segs, code: ConfigErrorCode.OUT_OF_RANGE, message: `must list at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}` };
    case 'uniqueItems': {
      const i = Number(p.i);
      const j = Number(p.j);
      const item = Array.isArray(value) ? value[Math.max(i, j)] : undefined;
      return {
        segs: [...segs, Math.max(i, j)],
        code: ConfigErrorCode.DUPLICATE_ITEM,
        message: `${show(item)} is listed twice (also at ${formatPath([...segs, Math.min(i, j)])})`,
      };
    }
    case 'format': {
      const what = p.format === 'ipv4' ? 'an IPv4 address in dotted-quad form such as "10.0.0.1"' : (expected ?? `a ${String(p.format)}`);
      return { segs, code: xcode ?? ConfigErrorCode.FORMAT, message: `${show(value)} is not ${what}` };
    }
    case 'pattern':
      return { segs, code: xcode ?? ConfigErrorCode.FORMAT, message: `${show(value)} is not ${expected ?? `in the form ${String(p.pattern)}`}` };
    case 'anyOf': {
      // The schema uses anyOf only for "one of these keys is required".
      const branches = Array.isArray(e.schema) ? (e.schema as unknown[]) : [];
      const keys = branches.flatMap((b) => arr(get(b, 'required')).map(String));
      return {
        segs,
        code: typeof parent['x-code'] === 'string' ? parent['x-code'] : ConfigErrorCode.MISSING_KEY,
        message: `needs ${keys.map((k) => `"${k}"`).join(' or ')}`,
      };
    }
    case 'if':
      // The failing branch ("then"/"else") reports the actual problem.
      return undefined;
    default:
      return { segs, code: ConfigErrorCode.SCHEMA, message: e.message ?? `fails schema rule ${e.keyword}` };
  }
}

function schemaProblems(raw: unknown): Found[] {
  const validate = schemaValidator();
  if (validate(raw)) return [];
  const out: Found[] = [];
  for (const e of validate.errors ?? []) {
    // Branch failures inside anyOf are summed up by the anyOf error itself.
    if (e.schemaPath.includes('/anyOf/')) continue;
    const f = schemaProblem(e, raw);
    if (f !== undefined) out.push(f);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Semantic checks

/** Parses `host:port` (host: IPv4, name, or bracketed IPv6). */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const host = m[1] as string;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  if (/^[\d.]+$/.test(host) && parseIpv4(host) === undefined) return undefined;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** Every pair of ranges that share at least one address, as [i, j] with i < j (input order). */
export function overlappingPairs(ranges: readonly Ipv4Range[]): Array<readonly [number, number]> {
  const order = ranges.map((_, i) => i).sort((a, b) => {
    const ra = ranges[a] as Ipv4Range;
    const rb = ranges[b] as Ipv4Range;
    return ra.start - rb.start || ra.end - rb.end;
  });
  const pairs: Array<readonly [number, number]> = [];
  let active: number[] = [];
  for (const i of order) {
    const r = ranges[i] as Ipv4Range;
    active = active.filter((a) => (ranges[a] as Ipv4Range).end >= r.start);
    for (const a of active) pairs.push(a < i ? [a, i] : [i, a]);
    active.push(i);
  }
  return pairs;
}

function cidrText(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** Why `a.b.c.d/n` text is not a usable network, or undefined if it is. */
function cidrTrouble(text: string): string | undefined {
  const slash = text.indexOf('/');
  const ip = parseIpv4(text.slice(0, slash));
  const prefix = Number(text.slice(slash + 1));
  if (ip === undefined) return `${text}: ${text.slice(0, slash)} is not a valid IPv4 address`;
  if (!Number.isInteger(prefix) || prefix > 32) return `${text}: prefix length must be 0 to 32`;
  const network = (ip & prefixToMask(prefix)) >>> 0;
  return `${text} is not a network address (host bits are set); did you mean ${formatIpv4(network)}/${prefix}?`;
}

/** Addresses no host or gateway can have, whatever the subnet. */
function unusableAddress(ip: Ipv4): string | undefined {
  if (ip === 0) return 'is the unspecified address';
  if (ip === 0xffffffff) return 'is the limited broadcast address';
  if (ip >>> 24 === 127) return 'is a loopback address';
  if (ip >>> 28 === 0xe) return 'is a multicast address';
  if (ip >>> 28 === 0xf) return 'is in the reserved 240.0.0.0/4 block';
  return undefined;
}

function specialInSubnet(c: Cidr, ip: Ipv4): string | undefined {
  if (c.prefix >= 31) return undefined;
  if (ip === c.network) return `is the network address of subnet ${cidrText(c)}`;
  if (ip === c.broadcast) return `is the broadcast address of subnet ${cidrText(c)}`;
  return undefined;
}

function normalizeHex(text: string): string {
  return text.replace(/[:-]/g, '').toLowerCase();
}

interface PoolRef {
  readonly segs: readonly Seg[];
  readonly range: Ipv4Range;
  readonly text: string;
}

interface SubnetRef {
  readonly segs: readonly Seg[];
  readonly raw: unknown;
  /** Relays of the enclosing shared network, if any, select it too. */
  readonly sharedSegs: readonly Seg[] | undefined;
  cidr?: Cidr;
}

class Checker {
  readonly found: Found[] = [];
  private readonly classNames = new Set<string>();
  private readonly interfaces: ReadonlySet<string>;

  constructor(private readonly raw: unknown) {
    this.interfaces = new Set(arr(get(get(raw, 'dhcp'), 'interfaces')).filter((v): v is string => typeof v === 'string'));
  }

  add(segs: readonly Seg[], code: string, message: string): void {
    this.found.push({ segs, code, message });
  }

  run(): void {
    const raw = this.raw;
    const database = str(get(raw, 'database'));
    if (database !== undefined && /^postgres(ql)?:\/\//.test(database)) {
      if (!URL.canParse(database)) this.add(['database'], ConfigErrorCode.DATABASE, `${show(database)} is not a valid URL`);
    }
    this.listen(['api', 'listen'], get(get(raw, 'api'), 'listen'));
    this.listen(['tftp', 'listen'], get(get(raw, 'tftp'), 'listen'));
    const dhcp = get(raw, 'dhcp');
    if (isRecord(dhcp)) this.dhcp(dhcp);
    const tftp = get(raw, 'tftp');
    if (isRecord(tftp)) this.tftp(tftp);
  }

  private tftp(tftp: Record<string, unknown>): void {
    for (const list of ['allow', 'deny'] as const) {
      arr(tftp[list]).forEach((v, i) => this.networkText(['tftp', list, i], v));
    }
    arr(tftp.remap).forEach((rule, i) => {
      const segs: Seg[] = ['tftp', 'remap', i];
      this.networkText([...segs, 'client'], get(rule, 'client'));
      const match = str(get(rule, 'match'));
      const flags = str(get(rule, 'flags')) ?? '';
      if (match === undefined) return;
      try {
        new RegExp(match, flags.includes('i') ? 'i' : '');
      } catch (err) {
        this.add([...segs, 'match'], ConfigErrorCode.TFTP_REMAP_REGEX, `${show(match)} is not a valid regular expression: ${(err as Error).message}`);
      }
    });
    const write = get(tftp, 'write');
    if (!isRecord(write)) return;
    const uploadDir = str(write.upload_dir);
    if (write.enabled === true && uploadDir === undefined) {
      this.add(['tftp', 'write', 'upload_dir'], ConfigErrorCode.TFTP_UPLOAD_DIR, 'writes are enabled but no upload_dir is set; name the directory uploads go to');
    }
    if (uploadDir !== undefined && uploadDir !== '') {
      const root = resolvePath(str(tftp.root) ?? DEFAULTS.tftp_root);
      const dir = resolvePath(uploadDir);
      if (dir === root || dir.startsWith(root.endsWith(sep) ? root : root + sep)) {
        this.add(['tftp', 'write', 'upload_dir'], ConfigErrorCode.TFTP_UPLOAD_DIR, `${show(uploadDir)} is inside the TFTP root, so uploads would be served as boot files; choose a directory outside the root`);
      }
    }
  }

  /** A CIDR the schema's pattern accepted but that is not a network address (host bits set, bad octet). */
  private networkText(segs: readonly Seg[], v: unknown): void {
    const text = str(v);
    if (text === undefined || !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(text) || parseCidr(text) !== undefined) return;
    this.add(segs, ConfigErrorCode.SUBNET_CIDR, cidrTrouble(text) ?? `${show(text)} is not an IPv4 network`);
  }

  private listen(segs: Seg[], v: unknown): void {
    const text = str(v);
    if (text === undefined || !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/.test(text)) return;
    if (parseListen(text) === undefined) {
      this.add(segs, ConfigErrorCode.LISTEN, `${show(text)} is not host:port with a valid IPv4 host and a port from 0 to 65535`);
    }
  }

  private dhcp(dhcp: Record<string, unknown>): void {
    const base: Seg[] = ['dhcp'];
    const subnets: SubnetRef[] = arr(dhcp.subnets).map((s, i) => ({ segs: [...base, 'subnets', i], raw: s, sharedSegs: undefined }));
    const sharedNames = new Map<string, readonly Seg[]>();
    arr(dhcp.shared_networks).forEach((sn, j) => {
      const segs: Seg[] = [...base, 'shared_networks', j];
      const name = str(get(sn, 'name'));
      if (name !== undefined) {
        const prior = sharedNames.get(name);
        if (prior !== undefined) {
          this.add([...segs, 'name'], ConfigErrorCode.DUPLICATE_ITEM, `shared network "${name}" is already defined at ${formatPath(prior)}`);
        } else sharedNames.set(name, segs);
      }
      this.servedInterface([...segs, 'interface'], get(sn, 'interface'));
      this.options([...segs, 'options'], get(sn, 'options'));
      arr(get(sn, 'subnets')).forEach((s, k) => subnets.push({ segs: [...segs, 'subnets', k], raw: s, sharedSegs: segs }));
    });

    if (dhcp.enabled === true) {
      if (this.interfaces.size === 0) {
        this.add(
          [...base, 'interfaces'],
          ConfigErrorCode.NO_INTERFACES,
          'DHCP is enabled but no interface is listed; dcplane answers DHCP only on interfaces named in dhcp.interfaces, so that it never serves a network by surprise. List the interfaces to serve, e.g. ["eth1"], or set dhcp.enabled to false',
        );
      }
      if (subnets.length === 0) {
        this.add([...base, 'subnets'], ConfigErrorCode.NO_SUBNETS, 'DHCP is enabled but no subnet is configured (in dhcp.subnets or dhcp.shared_networks); add the subnets to serve');
      }
    }

    const timers = this.globalTimers(base, dhcp);
    this.classes(base, dhcp);
    this.options([...base, 'options'], dhcp.options);

    const ids = new Map<number, readonly Seg[]>();
    const pools: PoolRef[] = [];
    const poolsBySubnet = new Map<SubnetRef, readonly PoolRef[]>();
    // A direct client's subnet follows its receiving interface, one subnet (or shared network) per interface:
    // a second one naming the same interface would silently never serve anyone on it.
    // (Subnets matched by an interface's address, without `interface`, cannot be checked here: the
    // first subnet holding one of the interface's addresses serves it, in configuration order.)
    const interfaceOwners = new Map<string, readonly Seg[]>();
    /** One report per shared network, not one more for each of its subnets. */
    const refused = new Set<readonly Seg[]>();
    const claimInterface = (segs: readonly Seg[], owner: readonly Seg[], raw: unknown): void => {
      const name = str(raw);
      if (name === undefined) return;
      const prior = interfaceOwners.get(name);
      if (prior === undefined) interfaceOwners.set(name, owner);
      else if (prior !== owner && !refused.has(owner)) {
        refused.add(owner);
        this.add(segs, ConfigErrorCode.DUPLICATE_SUBNET_INTERFACE, `interface "${name}" is already served by ${formatPath(prior)}; only one subnet can serve an interface's direct clients. To serve several subnets on one link, put them in one entry of dhcp.shared_networks with "interface": "${name}"`);
      }
    };
    for (const s of subnets) if (s.sharedSegs === undefined) claimInterface([...s.segs, 'interface'], s.segs, get(s.raw, 'interface'));
    arr(dhcp.shared_networks).forEach((sn, j) => {
      const path = formatPath([...base, 'shared_networks', j]);
      const inside = subnets.filter((s) => s.sharedSegs !== undefined && formatPath(s.sharedSegs) === path);
      const owner = inside[0]?.sharedSegs ?? [...base, 'shared_networks', j];
      claimInterface([...owner, 'interface'], owner, get(sn, 'interface'));
      for (const s of inside) claimInterface([...s.segs, 'interface'], owner, get(s.raw, 'interface'));
    });

    subnets.forEach((s) => {
      const id = int(get(s.raw, 'id'));
      if (id !== undefined) {
        const prior = ids.get(id);
        if (prior !== undefined) {
          this.add([...s.segs, 'id'], ConfigErrorCode.DUPLICATE_SUBNET_ID, `subnet id ${id} is already used by ${formatPath(prior)}; subnet ids must be unique`);
        } else ids.set(id, s.segs);
      }
      const text = str(get(s.raw, 'subnet'));
      if (text !== undefined && /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(text)) {
        const c = parseCidr(text);
        if (c === undefined) this.add([...s.segs, 'subnet'], ConfigErrorCode.SUBNET_CIDR, cidrTrouble(text) as string);
        else s.cidr = c;
      }
      this.subnetTimers(s.segs, s.raw, timers);
      this.servedInterface([...s.segs, 'interface'], get(s.raw, 'interface'));
      this.classRef([...s.segs, 'client_class'], get(s.raw, 'client_class'));
      this.options([...s.segs, 'options'], get(s.raw, 'options'));
      this.addressList([...s.segs, 'routers'], get(s.raw, 'routers'), s.cidr, 'router');
      this.addressList([...s.segs, 'dns_servers'], get(s.raw, 'dns_servers'), undefined, 'DNS server');
      const own = this.pools(s);
      poolsBySubnet.set(s, own);
      pools.push(...own);
    });

    this.relays(dhcp, subnets);
    this.subnetOverlaps(subnets);
    this.poolOverlaps(pools);
    this.reservations(subnets, poolsBySubnet);
  }

  private globalTimers(base: readonly Seg[], dhcp: Record<string, unknown>): Timers {
    const t: Timers = {
      lease: { value: int(dhcp.lease_time) ?? 3600, segs: [...base, 'lease_time'], own: true },
      renew: optTimer(int(dhcp.renew_timer), [...base, 'renew_timer']),
      rebind: optTimer(int(dhcp.rebind_timer), [...base, 'rebind_timer']),
    };
    this.timerRules(t);
    return t;
  }

  private subnetTimers(segs: readonly Seg[], raw: unknown, global: Timers): void {
    const own = (key: string, g: Timer | undefined): Timer | undefined => {
      const v = int(get(raw, key));
      return v !== undefined ? { value: v, segs: [...segs, key], own: true } : g && { ...g, own: false };
    };
    const lease = own('lease_time', global.lease) as Timer;
    this.timerRules({ lease, renew: own('renew_timer', global.renew), rebind: own('rebind_timer', global.rebind) });
  }

  /** RFC 2131 §4.4.5: T1 < T2 < lease time, or clients renew and rebind in the wrong order. */
  private timerRules(t: Timers): void {
    const rule = (a: Timer | undefined, b: Timer | undefined, aName: string, bName: string): void => {
      if (a === undefined || b === undefined || a.value < b.value) return;
      if (!a.own && !b.own) return; // reported where both were set
      const at = a.own ? a : b;
      const origin = (x: Timer): string => (x.own ? `${x.value}` : `${x.value} (from ${formatPath(x.segs)})`);
      this.add(at.segs, ConfigErrorCode.TIMERS, `${aName} ${origin(a)} must be less than ${bName} ${origin(b)} (RFC 2131 §4.4.5: T1 < T2 < lease time)`);
    };
    rule(t.renew, t.rebind, 'renew_timer', 'rebind_timer');
    rule(t.rebind, t.lease, 'rebind_timer', 'lease_time');
    if (t.rebind === undefined) rule(t.renew, t.lease, 'renew_timer', 'lease_time');
  }

  private classes(base: readonly Seg[], dhcp: Record<string, unknown>): void {
    const seen = new Map<string, readonly Seg[]>();
    arr(dhcp.client_classes).forEach((c, i) => {
      const segs = [...base, 'client_classes', i];
      const name = str(get(c, 'name'));
      if (name !== undefined) {
        const prior = seen.get(name);
        if (prior !== undefined) {
          this.add([...segs, 'name'], ConfigErrorCode.DUPLICATE_CLASS, `client class "${name}" is already defined at ${formatPath(prior)}`);
        } else seen.set(name, segs);
        this.classNames.add(name);
      }
      const match = get(c, 'match');
      if (isRecord(match) && Object.keys(match).length === 0) {
        this.add([...segs, 'match'], ConfigErrorCode.CLASS_EMPTY_MATCH, 'match is empty and would put every client in the class; give at least one of vendor_class, user_class, client_arch, circuit_id, remote_id, mac_prefix');
      }
      this.options([...segs, 'options'], get(c, 'options'));
    });
  }

  private classRef(segs: readonly Seg[], v: unknown): void {
    const name = str(v);
    if (name === undefined || this.classNames.has(name)) return;
    this.add(segs, ConfigErrorCode.UNKNOWN_CLASS, `client class "${name}" is not defined in dhcp.client_classes${didYouMean(name, this.classNames)}`);
  }

  private servedInterface(segs: readonly Seg[], v: unknown): void {
    const name = str(v);
    if (name === undefined || this.interfaces.size === 0 || this.interfaces.has(name)) return;
    this.add(segs, ConfigErrorCode.INTERFACE_NOT_SERVED, `interface "${name}" is not listed in dhcp.interfaces, so DHCP would never answer on it; add it there`);
  }

  private addressList(segs: readonly Seg[], v: unknown, cidr: Cidr | undefined, what: string): void {
    arr(v).forEach((item, i) => {
      const ip = typeof item === 'string' ? parseIpv4(item) : undefined;
      if (ip === undefined) return;
      const why = unusableAddress(ip) ?? (cidr && specialInSubnet(cidr, ip));
      if (why !== undefined) this.add([...segs, i], ConfigErrorCode.BAD_IP, `${item} ${why} and cannot be a ${what}`);
    });
  }

  private options(segs: readonly Seg[], v: unknown): void {
    const seen = new Map<number, readonly Seg[]>();
    arr(v).forEach((o, i) => {
      const at = [...segs, i];
      const code = int(get(o, 'code'));
      const name = str(get(o, 'name'));
      const byName = name === undefined ? undefined : OPTION_DEFS_BY_NAME.get(name);
      if (code !== undefined && byName !== undefined && byName.code !== code) {
        this.add([...at, 'name'], ConfigErrorCode.OPTION_NAME_MISMATCH, `option name "${name}" is code ${byName.code}, not ${code}`);
        return;
      }
      const effective = code ?? byName?.code;
      if (effective === undefined) return;
      const codeSegs = code !== undefined ? [...at, 'code'] : [...at, 'name'];
      if (SERVER_OWNED_OPTIONS.has(effective)) {
        this.add(codeSegs, ConfigErrorCode.OPTION_SERVER_OWNED, `option ${effective} is computed by the server for every message (RFC 2131 §4.3.1) and cannot be configured`);
        return;
      }
      const prior = seen.get(effective);
      if (prior !== undefined) {
        this.add(codeSegs, ConfigErrorCode.DUPLICATE_OPTION, `option ${effective} is already set at ${formatPath(prior)} in the same list`);
      } else seen.set(effective, at);
      const type = str(get(o, 'type')) as OptionKind | undefined;
      const kind = type ?? OPTION_DEFS_BY_CODE.get(effective)?.kind;
      if (kind === undefined) {
        this.add([...at, 'type'], ConfigErrorCode.OPTION_TYPE_REQUIRED, `option ${effective} is not a known option, so its "type" must be given (ip, ips, string, uint8, uint16, uint32, int32, bool, hex, uint8s, uint16s)`);
        return;
      }
      if (!isRecord(o) || !Object.hasOwn(o, 'value')) return;
      try {
        encodeOptionValue(kind, o.value);
      } catch (err) {
        this.add([...at, 'value'], ConfigErrorCode.OPTION_VALUE, `option ${effective}: ${(err as Error).message}`);
      }
    });
  }

  private pools(s: SubnetRef): PoolRef[] {
    const out: PoolRef[] = [];
    arr(get(s.raw, 'pools')).forEach((p, i) => {
      const isObject = isRecord(p);
      const segs = isObject ? [...s.segs, 'pools', i, 'range'] : [...s.segs, 'pools', i];
      if (isObject) {
        this.classRef([...s.segs, 'pools', i, 'client_class'], p.client_class);
        this.options([...s.segs, 'pools', i, 'options'], p.options);
      }
      const text = str(isObject ? p.range : p);
      if (text === undefined || !/^\s*\d{1,3}(\.\d{1,3}){3}\s*(-\s*\d{1,3}(\.\d{1,3}){3}|\/\d{1,2})\s*$/.test(text)) return;
      const range = parseRange(text);
      if (range === undefined) {
        this.add(segs, ConfigErrorCode.POOL_SYNTAX, poolTrouble(text.trim()));
        return;
      }
      const shown = text.trim();
      if (s.cidr !== undefined) {
        const c = s.cidr;
        const inside = (ip: Ipv4): boolean => ip >= c.network && ip <= c.broadcast;
        if (!inside(range.start) && !inside(range.end) && !rangesOverlap(range, { start: c.network, end: c.broadcast })) {
          this.add(segs, ConfigErrorCode.POOL_OUTSIDE_SUBNET, `${shown} is outside subnet ${cidrText(c)}`);
        } else if (!inside(range.start) || !inside(range.end)) {
          this.add(segs, ConfigErrorCode.POOL_OUTSIDE_SUBNET, `${shown} extends outside subnet ${cidrText(c)} (${formatIpv4(c.network)}-${formatIpv4(c.broadcast)})`);
        } else if (c.prefix < 31 && (range.start === c.network || range.end === c.broadcast)) {
          const which = range.start === c.network ? `network address ${formatIpv4(c.network)}` : `broadcast address ${formatIpv4(c.broadcast)}`;
          this.add(segs, ConfigErrorCode.POOL_SPECIAL_ADDRESS, `${shown} includes the ${which} of subnet ${cidrText(c)}, which no client can use`);
        }
      }
      out.push({ segs, range, text: shown });
    });
    return out;
  }

  private relays(dhcp: Record<string, unknown>, subnets: readonly SubnetRef[]): void {
    // A relay address picks one subnet (or one shared network); listing it twice makes the choice arbitrary.
    const owner = new Map<Ipv4, { segs: readonly Seg[]; scope: string }>();
    const visit = (segs: readonly Seg[], list: unknown, scope: string): void => {
      arr(list).forEach((item, i) => {
        const ip = typeof item === 'string' ? parseIpv4(item) : undefined;
        if (ip === undefined) return;
        const at = [...segs, i];
        const why = unusableAddress(ip);
        if (why !== undefined) {
          this.add(at, ConfigErrorCode.BAD_IP, `${item} ${why} and cannot be a relay address`);
          return;
        }
        const prior = owner.get(ip);
        if (prior === undefined) owner.set(ip, { segs: at, scope });
        else if (prior.scope !== scope) {
          this.add(at, ConfigErrorCode.DUPLICATE_RELAY, `relay address ${item} already selects ${prior.scope} (${formatPath(prior.segs)})`);
        }
      });
    };
    arr(dhcp.shared_networks).forEach((sn, j) => {
      visit(['dhcp', 'shared_networks', j, 'relay_addresses'], get(sn, 'relay_addresses'), formatPath(['dhcp', 'shared_networks', j]));
    });
    for (const s of subnets) {
      const scope = formatPath(s.sharedSegs ?? s.segs);
      visit([...s.segs, 'relay_addresses'], get(s.raw, 'relay_addresses'), scope);
    }
  }

  private subnetOverlaps(subnets: readonly SubnetRef[]): void {
    const parsed = subnets.filter((s): s is SubnetRef & { cidr: Cidr } => s.cidr !== undefined);
    for (const [a, b] of overlappingPairs(parsed.map((s) => ({ start: s.cidr.network, end: s.cidr.broadcast })))) {
      const first = parsed[a] as SubnetRef & { cidr: Cidr };
      const second = parsed[b] as SubnetRef & { cidr: Cidr };
      this.add([...second.segs, 'subnet'], ConfigErrorCode.SUBNET_OVERLAP, `subnet ${cidrText(second.cidr)} overlaps subnet ${cidrText(first.cidr)} at ${formatPath(first.segs)}`);
    }
  }

  private poolOverlaps(pools: readonly PoolRef[]): void {
    for (const [a, b] of overlappingPairs(pools.map((p) => p.range))) {
      const first = pools[a] as PoolRef;
      const second = pools[b] as PoolRef;
      this.add(second.segs, ConfigErrorCode.POOL_OVERLAP, `${second.text} overlaps pool ${first.text} at ${formatPath(first.segs)}; an address must belong to one pool only`);
    }
  }

  private reservations(subnets: readonly SubnetRef[], poolsBySubnet: ReadonlyMap<SubnetRef, readonly PoolRef[]>): void {
    const ips = new Map<Ipv4, readonly Seg[]>();
    subnets.forEach((s) => {
      const macs = new Map<string, readonly Seg[]>();
      const clientIds = new Map<string, readonly Seg[]>();
      arr(get(s.raw, 'reservations')).forEach((r, i) => {
        const segs = [...s.segs, 'reservations', i];
        if (!isRecord(r)) return;
        const mac = str(r.mac);
        const clientId = str(r.client_id);
        if (mac === undefined && clientId === undefined) {
          this.add(segs, ConfigErrorCode.RESERVATION_NO_IDENTIFIER, 'a reservation needs "mac" or "client_id" to know which client it is for');
        }
        if (mac !== undefined) {
          const key = normalizeHex(mac);
          const prior = macs.get(key);
          if (prior !== undefined) this.add([...segs, 'mac'], ConfigErrorCode.DUPLICATE_RESERVATION_MAC, `MAC ${mac} is already reserved in this subnet at ${formatPath(prior)}`);
          else macs.set(key, segs);
        }
        if (clientId !== undefined) {
          const key = normalizeHex(clientId);
          const prior = clientIds.get(key);
          if (prior !== undefined) {
            this.add([...segs, 'client_id'], ConfigErrorCode.DUPLICATE_RESERVATION_CLIENT_ID, `client id ${clientId} is already reserved in this subnet at ${formatPath(prior)}`);
          } else clientIds.set(key, segs);
        }
        arr(r.client_classes).forEach((c, k) => this.classRef([...segs, 'client_classes', k], c));
        this.options([...segs, 'options'], r.options);
        const text = str(r.ip);
        const ip = text === undefined ? undefined : parseIpv4(text);
        if (ip === undefined) return;
        const ipSegs = [...segs, 'ip'];
        const unusable = unusableAddress(ip) ?? (s.cidr && specialInSubnet(s.cidr, ip));
        if (unusable !== undefined) {
          this.add(ipSegs, ConfigErrorCode.BAD_IP, `${text} ${unusable} and cannot be reserved for a host`);
          return;
        }
        if (s.cidr !== undefined && ((ip & s.cidr.mask) >>> 0) !== s.cidr.network) {
          this.add(ipSegs, ConfigErrorCode.RESERVATION_OUTSIDE_SUBNET, `${text} is outside subnet ${cidrText(s.cidr)}`);
        }
        const prior = ips.get(ip);
        if (prior !== undefined) {
          this.add(ipSegs, ConfigErrorCode.DUPLICATE_RESERVATION_IP, `${text} is already reserved for another client at ${formatPath(prior)}`);
        } else ips.set(ip, segs);
        // Own subnet's pools suffice: an address in another subnet's pool is already outside this subnet.
        const pool = (poolsBySubnet.get(s) ?? []).find((p) => ip >= p.range.start && ip <= p.range.end);
        if (pool !== undefined) {
          this.add(
            ipSegs,
            ConfigErrorCode.RESERVATION_IN_POOL,
            `${text} is inside dynamic pool ${pool.text} (${formatPath(pool.segs)}), so it could be leased to another client; reserve an address outside the pools, or shrink the pool to leave ${text} out`,
          );
        }
      });
    });
  }
}

interface Timer {
  readonly value: number;
  readonly segs: readonly Seg[];
  /** Set at the level being checked, not inherited. */
  readonly own: boolean;
}

interface Timers {
  readonly lease: Timer;
  readonly renew: Timer | undefined;
  readonly rebind: Timer | undefined;
}

function optTimer(value: number | undefined, segs: readonly Seg[]): Timer | undefined {
  return value === undefined ? undefined : { value, segs, own: true };
}

function poolTrouble(text: string): string {
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const a = text.slice(0, dash).trim();
    const b = text.slice(dash + 1).trim();
    const start = parseIpv4(a);
    const end = parseIpv4(b);
    if (start === undefined) return `${text}: ${a} is not a valid IPv4 address`;
    if (end === undefined) return `${text}: ${b} is not a valid IPv4 address`;
    return `${text} starts after it ends; write the lower address first (${b}-${a})`;
  }
  return `${text} is not a pool: ${cidrTrouble(text) ?? 'invalid CIDR'}`;
}

/** Where a path sits in the file (key positions and indexes), so problems read top to bottom. */
function documentOrder(raw: unknown, segs: readonly Seg[]): number[] {
  const out: number[] = [];
  let cur = raw;
  for (const s of segs) {
    if (typeof s === 'number') {
      out.push(s);
      cur = Array.isArray(cur) ? cur[s] : undefined;
    } else {
      const keys = isRecord(cur) ? Object.keys(cur) : [];
      const at = keys.indexOf(s);
      out.push(at < 0 ? keys.length : at);
      cur = get(cur, s);
    }
  }
  return out;
}

function compareOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function covers(outer: readonly Seg[], inner: readonly Seg[]): boolean {
  return outer.length <= inner.length && outer.every((s, i) => s === inner[i]);
}

/**
 * Validates a parsed configuration file: the published JSON Schema first,
 * then the rules a schema cannot state. Every problem is listed, each with
 * its path; semantic problems about a value the schema already refused are
 * left out so each mistake is reported once.
 */
export function validateConfig(raw: unknown): ValidationResult {
  const schema = schemaProblems(raw);
  const checker = new Checker(raw);
  checker.run();
  const semantic = checker.found.filter((f) => !schema.some((s) => covers(s.segs, f.segs)));
  const all = [...schema, ...semantic];
  const order = new Map(all.map((f) => [f, documentOrder(raw, f.segs)]));
  all.sort((a, b) => compareOrder(order.get(a) as number[], order.get(b) as number[]));
  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const f of all) {
    const path = formatPath(f.segs);
    const key = `${path}\0${f.code}\0${f.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ path, code: f.code, message: f.message });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: raw as DcplaneConfig };
}
