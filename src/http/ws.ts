import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { AuthError, AuthErrorCode } from '../auth/errors.js';
import { can, tenantFilter } from '../auth/rbac.js';
import { verifyBearer } from '../auth/tokens.js';
import type { Principal } from '../auth/tokens.js';
import type { Inventory } from '../inventory/inventory.js';
import type { ApiAuth } from './auth-routes.js';
import { ApiErrorCode } from './errors.js';
import { EVENT_TOPICS } from './event-hub.js';
import type { EventHub, EventTopic, HubEvent, InventoryEventData } from './event-hub.js';

export const WS_PATH = '/api/v1/ws';

/**
 * Close codes of the event stream. 4000–4999 are the application's (RFC 6455
 * §7.4.2); these mirror the HTTP statuses a browser cannot see on a failed
 * WebSocket handshake.
 */
export const WsCloseCode = {
  /** No token, or one that is invalid, expired or revoked (also when it expires while connected). */
  UNAUTHORIZED: 4401,
  /** A valid principal that may read none of the event topics. */
  FORBIDDEN: 4403,
  /** RFC 6455 §7.4.1: 1001, the server is going away (shutdown). */
  GOING_AWAY: 1001,
} as const;

export interface WsOptions {
  readonly hub: EventHub;
  /** Undefined: every connection is an unscoped anonymous admin (route tests with auth disabled). */
  readonly auth: ApiAuth | undefined;
  readonly registry: Registry;
  /** Ping interval; a client that has not answered the previous ping by the next one is dropped. Default 30 s. */
  readonly heartbeatMs?: number;
  /** Bytes queued for one client above which its events are dropped (and it is told). Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /**
   * Subscribes to changes of users (role, tenants, active flag, password,
   * deletion), by user id; returns the unsubscribe function. Streams of those
   * users are checked again at once (their events held meanwhile), so a
   * disabled, demoted or re-scoped user's stream ends or narrows before it
   * sees another event.
   */
  readonly userChanges?: (listener: (userIds: readonly number[]) => void) => () => void;
}

/** The parts of ws's WebSocket used here (the package ships no types of its own). */
interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  ping(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'pong' | 'close', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}

const OPEN = 1;
/** Largest client message: `{"subscribe": [...]}` is tiny; anything bigger is refused by ws with 1009. */
const MAX_CLIENT_MESSAGE = 4096;

/**
 * Ids of users whose sessions may have changed: inventory writes of users
 * (role, tenants, active flag, deletion) and of API tokens (revocation), and
 * what `announce` is told (a password change, which the auth store writes
 * outside the inventory). The WebSocket subscribes to check those users'
 * streams again.
 */
export class UserChangeFeed {
  private readonly listeners = new Set<(userIds: readonly number[]) => void>();

  announce(userIds: readonly number[]): void {
    if (userIds.length === 0) return;
    for (const l of this.listeners) l(userIds);
  }

  readonly subscribe = (listener: (userIds: readonly number[]) => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Announces the users an inventory commit touched; returns the unsubscribe function. */
  follow(inventory: Inventory): () => void {
    return inventory.onChange((events) => {
      const ids = new Set<number>();
      for (const e of events) {
        if (e.object_type === 'user') ids.add(e.object_id);
        const owner = e.object_type === 'api_token' ? (e.before ?? e.after)?.['user_id'] : undefined;
        if (typeof owner === 'number') ids.add(owner);
      }
      this.announce([...ids]);
    });
  }
}

/** The close code for a refused connection. */
export function closeCodeFor(err: unknown): number {
  if (err instanceof AuthError && (err.code === AuthErrorCode.FORBIDDEN || err.code === AuthErrorCode.ACCOUNT_DISABLED)) return WsCloseCode.FORBIDDEN;
  return WsCloseCode.UNAUTHORIZED;
}

/** Who sees what: null is the anonymous admin of auth-disabled tests. */
type Viewer = Pick<Principal, 'role' | 'readOnly' | 'tenants' | 'username' | 'userId'> | null;

/** Events held for one stream while its principal is checked again; past this many they are dropped (and counted). */
const MAX_HELD = 1000;

function readable(viewer: Viewer, topic: EventTopic): boolean {
  if (viewer === null) return true;
  // Inventory events are filtered per resource below; the topic is open to anyone who may read some inventory.
  return can(viewer, 'read', topic === 'inventory' ? 'servers' : topic);
}

/**
 * What of an inventory event this viewer may see: all of it, part of it (an
 * object that moved into or out of the viewer's tenants: the image on the
 * other side is withheld), or nothing.
 */
export function inventoryView(e: Extract<HubEvent, { type: 'inventory' }>, viewer: Viewer): 'all' | InventoryEventData | undefined {
  const a = e.audience;
  if (viewer === null) return 'all';
  if (a.rbac === undefined) return viewer.role === 'admin' ? 'all' : undefined;
  if (!can(viewer, 'read', a.rbac)) return undefined;
  const scope = tenantFilter(viewer);
  if (scope === undefined || !a.tenanted) return 'all';
  const seesBefore = e.data.before !== null && a.tenantBefore !== null && scope.includes(a.tenantBefore);
  const seesAfter = e.data.after !== null && a.tenantAfter !== null && scope.includes(a.tenantAfter);
  if (!seesBefore && !seesAfter) return undefined;
  if ((seesBefore || e.data.before === null) && (seesAfter || e.data.after === null)) return 'all';
  return { ...e.data, before: seesBefore ? e.data.before : null, after: seesAfter ? e.data.after : null };
}

class Connection {
  topics: ReadonlySet<EventTopic> = new Set(EVENT_TOPICS);
  dropped = 0;
  awaitingPong = false;
  unsubscribe: (() => void) | undefined;
  /** Set while the principal is checked again after a change of its user: events wait here. */
  held: HubEvent[] | undefined;
  /** The user changed again during a check: check once more before releasing `held`. */
  recheckAgain = false;
  /** Fires when the access token expires, to end the stream then rather than at the next heartbeat. */
  expiry: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: WsSocket,
    public viewer: Viewer,
    readonly header: string | undefined,
  ) {}
}

/**
 * `GET /api/v1/ws`: a WebSocket of live events, one JSON text message each:
 * `{type, at, data}` with type `inventory` (a committed change: action,
 * object_type, object_id, before, after, request_id; secret fields left out),
 * `tftp` (a transfer's `start` and `end`), `dhcp` (a lease event), and the
 * stream's own `hello`, `subscribed`, `overflow` and `error`.
 *
 * Authentication: the bearer in the Authorization header (scripts), or
 * `?access_token=` (browsers cannot set headers on a WebSocket). It is
 * checked after the upgrade, so a refusal is a close code the page can read
 * (4401, 4403) rather than a failed handshake; it is checked again at every
 * heartbeat, so an expired or revoked token ends the stream with 4401.
 *
 * A client that does not keep up has events dropped once `maxBufferedBytes`
 * are queued for it, and gets `{type: 'overflow', data: {dropped}}` when it
 * has caught up, so the server's memory per client stays bounded; one that
 * does not answer pings is dropped.
 */
export async function registerWebSocket(app: FastifyInstance, opts: WsOptions): Promise<void> {
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const maxBuffered = opts.maxBufferedBytes ?? 1 << 20;
  const connections = new Set<Connection>();
  const registers = [opts.registry];
  new Gauge({
    name: 'dcplane_ws_connections',
    help: 'Open, authenticated WebSocket event streams',
    registers,
    collect() {
      this.set(connections.size);
    },
  });
  const sent = new Counter({ name: 'dcplane_ws_events_sent_total', help: 'Events sent on WebSocket streams, by type', labelNames: ['type'], registers });
  const dropped = new Counter({ name: 'dcplane_ws_events_dropped_total', help: 'Events dropped for WebSocket clients that did not keep up', registers });
  const refused = new Counter({ name: 'dcplane_ws_refused_total', help: 'WebSocket connections closed for their credentials, by close code', labelNames: ['code'], registers });

  await app.register(websocket, { options: { maxPayload: MAX_CLIENT_MESSAGE } });

  const now = opts.auth?.now ?? (() => new Date());
  const authenticate = async (header: string | undefined): Promise<Viewer> => {
    if (opts.auth === undefined) return null;
    return verifyBearer(header, opts.auth.store, opts.auth.tokens, now());
  };

  const message = (type: string, data: unknown): string => JSON.stringify({ type, at: new Date().toISOString(), data });

  /** Sends unless the client is behind; then counts the drop, to report once it has caught up. */
  const offer = (c: Connection, text: string, type: string): void => {
    const s = c.socket;
    if (s.readyState !== OPEN) return;
    if (s.bufferedAmount > maxBuffered) {
      c.dropped++;
      dropped.inc();
      return;
    }
    if (c.dropped > 0 && s.bufferedAmount <= maxBuffered / 2) {
      s.send(message('overflow', { dropped: c.dropped }));
      c.dropped = 0;
    }
    s.send(text);
    sent.inc({ type });
  };

  // Serialised once per event for every connection that sees all of it.
  const texts = new WeakMap<HubEvent, string>();
  const deliver = (c: Connection, e: HubEvent): void => {
    if (c.held !== undefined) {
      if (c.held.length < MAX_HELD) c.held.push(e);
      else {
        c.dropped++;
        dropped.inc();
      }
      return;
    }
    if (!c.topics.has(e.type) || !readable(c.viewer, e.type)) return;
    let text: string | undefined;
    if (e.type === 'inventory') {
      const view = inventoryView(e, c.viewer);
      if (view === undefined) return;
      if (view !== 'all') text = JSON.stringify({ type: e.type, at: e.at, data: view });
    }
    if (text === undefined) {
      text = texts.get(e);
      if (text === undefined) {
        text = JSON.stringify({ type: e.type, at: e.at, data: e.data });
        texts.set(e, text);
      }
    }
    offer(c, text, e.type);
  };

  const close = (c: Connection, code: number, reason: string): void => {
    c.unsubscribe?.();
    c.unsubscribe = undefined;
    clearTimeout(c.expiry);
    connections.delete(c);
    if (c.socket.readyState === OPEN) c.socket.close(code, reason.slice(0, 120));
  };

  /** Ends a stream whose session no longer holds: a `session_ended` message with the reason, then the close code. */
  const endSession = (c: Connection, err: unknown): void => {
    const code = closeCodeFor(err);
    refused.inc({ code: String(code) });
    const reason = err instanceof AuthError ? err.code : code === WsCloseCode.FORBIDDEN ? AuthErrorCode.FORBIDDEN : 'unauthorized';
    if (c.socket.readyState === OPEN) c.socket.send(message('session_ended', { code: reason, message: err instanceof Error ? err.message : String(err) }));
    close(c, code, reason);
  };

  /** Ends the stream when its access token expires (API tokens: at their expiry too, by the heartbeat). */
  const armExpiry = (c: Connection): void => {
    clearTimeout(c.expiry);
    const token = /^Bearer +([^\s]+)/i.exec(c.header ?? '')?.[1];
    if (token === undefined || token.split('.').length !== 3) return;
    let exp: number | undefined;
    try {
      exp = decodeJwt(token).exp;
    } catch {
      return;
    }
    if (exp === undefined) return;
    // The API's clock may be moved by tests: wait as long as it says is left (a moment past the second).
    const wait = Math.max(0, exp * 1000 - now().getTime()) + 50;
    c.expiry = setTimeout(() => void recheck(c), Math.min(wait, 2 ** 31 - 1));
    c.expiry.unref();
  };

  /**
   * Checks the stream's token and user again (the same check as a request's):
   * a refused one ends the stream; otherwise the stream goes on with the
   * principal as it is now (an API token's user may have a new role or
   * tenants) and the events held meanwhile are delivered under it.
   */
  const recheck = async (c: Connection): Promise<void> => {
    let viewer: Viewer;
    try {
      viewer = await authenticate(c.header);
      if (!EVENT_TOPICS.some((t) => readable(viewer, t))) throw new AuthError(AuthErrorCode.FORBIDDEN, 'this user may no longer read any event topic');
    } catch (err) {
      c.held = undefined;
      endSession(c, err);
      return;
    }
    c.viewer = viewer;
    if (c.recheckAgain) {
      // The user changed again while this check read it (a demotion, then a disable): the read may predate the
      // second change, so check once more before releasing what is held.
      c.recheckAgain = false;
      return recheck(c);
    }
    const held = c.held ?? [];
    c.held = undefined;
    for (const e of held) deliver(c, e);
  };

  const unsubscribeUsers = opts.userChanges?.((ids) => {
    for (const c of connections) {
      if (c.viewer === null || !ids.includes(c.viewer.userId)) continue;
      if (c.held !== undefined) {
        c.recheckAgain = true;
        continue;
      }
      c.held = [];
      void recheck(c);
    }
  });

  const heartbeat = setInterval(() => {
    for (const c of connections) {
      if (c.awaitingPong) {
        // No pong for a whole interval: the client is gone or not reading at all.
        c.unsubscribe?.();
        connections.delete(c);
        c.socket.terminate();
        continue;
      }
      c.awaitingPong = true;
      c.socket.ping();
      if (c.dropped > 0 && c.socket.bufferedAmount <= maxBuffered / 2) {
        c.socket.send(message('overflow', { dropped: c.dropped }));
        c.dropped = 0;
      }
      if (opts.auth !== undefined && c.held === undefined) void recheck(c);
    }
  }, heartbeatMs);
  heartbeat.unref();
  app.addHook('onClose', async () => {
    clearInterval(heartbeat);
    unsubscribeUsers?.();
    for (const c of [...connections]) close(c, WsCloseCode.GOING_AWAY, 'server shutting down');
  });

  app.route({
    method: 'GET',
    url: WS_PATH,
    schema: {
      tags: ['events'],
      summary: 'Live events over a WebSocket (inventory changes, TFTP transfers, DHCP lease events)',
      description:
        'Upgrade to a WebSocket. Authenticate with `Authorization: Bearer …` or, from a browser (which cannot set headers on a ' +
        'WebSocket), `?access_token=…` (the token then appears in the URL: use a short-lived access token, not an API token). ' +
        'A refused or expired token closes the stream with 4401, a principal without read rights with 4403. The stream is checked ' +
        'again when its access token expires and as soon as its user is disabled, deleted, given another role or tenants, or ' +
        'changes password (or its API token is revoked): a session that ended gets `{type: "session_ended", data: {code, message}}` ' +
        'and the close (reason: the AUTH_ERR_* code); an API token whose user changed goes on with the new rights. Messages are JSON ' +
        '`{type, at, data}`: `hello` first, then `inventory`, `tftp` and `dhcp` events; send `{"subscribe": ["inventory","tftp","dhcp"]}` ' +
        'to choose topics (answered with `subscribed`). A client that falls more than ~1 MiB behind has events dropped and then ' +
        'receives `{type: "overflow", data: {dropped}}`; the server pings every 30 s and drops clients that do not answer.',
      querystring: { type: 'object', properties: { access_token: { type: 'string', maxLength: 4096, description: 'For browsers; prefer the Authorization header.' } } },
      response: { 426: { description: 'A plain HTTP request: this endpoint only upgrades to a WebSocket.', type: 'object' } },
    },
    handler: async (_req, reply) =>
      reply.status(426).header('upgrade', 'websocket').send({ code: ApiErrorCode.UPGRADE_REQUIRED, message: `${WS_PATH} serves WebSocket upgrades only`, errors: [] }),
    wsHandler: (raw: unknown, req: FastifyRequest) => {
      const socket = raw as WsSocket;
      const query = req.query as Record<string, unknown>;
      const given = req.headers.authorization;
      const header = given !== undefined ? given : typeof query['access_token'] === 'string' ? `Bearer ${query['access_token']}` : undefined;
      // Handlers attach synchronously (messages may arrive while the token is checked) and wait for it.
      const ready = authenticate(header).then(
        (viewer) => {
          const c = new Connection(socket, viewer, header);
          if (!EVENT_TOPICS.some((t) => readable(viewer, t))) {
            refused.inc({ code: String(WsCloseCode.FORBIDDEN) });
            socket.close(WsCloseCode.FORBIDDEN, AuthErrorCode.FORBIDDEN);
            return undefined;
          }
          if (socket.readyState !== OPEN) return undefined;
          connections.add(c);
          c.unsubscribe = opts.hub.subscribe((e) => deliver(c, e));
          armExpiry(c);
          socket.send(message('hello', { user: viewer?.username ?? null, topics: [...c.topics] }));
          return c;
        },
        (err: unknown) => {
          const code = closeCodeFor(err);
          refused.inc({ code: String(code) });
          socket.close(code, err instanceof AuthError ? err.code : 'unauthorized');
          return undefined;
        },
      );
      socket.on('pong', () => {
        void ready.then((c) => {
          if (c !== undefined) c.awaitingPong = false;
        });
      });
      socket.on('close', () => {
        void ready.then((c) => {
          if (c === undefined) return;
          c.unsubscribe?.();
          clearTimeout(c.expiry);
          connections.delete(c);
        });
      });
      socket.on('error', (err) => req.log.debug({ err }, 'websocket error'));
      socket.on('message', (data, isBinary) => {
        void ready.then((c) => {
          if (c === undefined) return;
          const topics = isBinary ? undefined : parseSubscribe(data.toString('utf8'));
          if (topics === undefined) {
            socket.send(message('error', { code: ApiErrorCode.WS_BAD_MESSAGE, message: `send {"subscribe": [topics]} with topics from ${EVENT_TOPICS.join(', ')}` }));
            return;
          }
          c.topics = new Set(topics);
          socket.send(message('subscribed', { topics }));
        });
      });
    },
  });
}

function parseSubscribe(text: string): EventTopic[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  const list = (v as { subscribe?: unknown }).subscribe;
  if (keys.length !== 1 || !Array.isArray(list)) return undefined;
  const out: EventTopic[] = [];
  for (const t of list) {
    const topic = EVENT_TOPICS.find((x) => x === t);
    if (topic === undefined) return undefined;
    if (!out.includes(topic)) out.push(topic);
  }
  return out;
}
