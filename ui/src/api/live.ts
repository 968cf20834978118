import { useEffect, useState, useSyncExternalStore } from 'react';
import { api } from './client';

/** One message of /api/v1/ws (src/http/ws.ts): `{type, at, data}`. */
export interface LiveEvent {
  readonly type: 'hello' | 'subscribed' | 'overflow' | 'error' | 'inventory' | 'tftp' | 'dhcp';
  readonly at: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export type LiveStatus = 'connecting' | 'live' | 'offline';

type Listener = (e: LiveEvent) => void;

/** Close codes of ws.ts. */
const UNAUTHORIZED = 4401;
const FORBIDDEN = 4403;

/**
 * The app's one WebSocket: opened with the access token in the URL (a
 * browser cannot set headers on it), reopened after a drop with backoff,
 * and after a 4401 (the 15-minute access token expired) with a refreshed
 * token. Components subscribe with useLiveEvents.
 */
class LiveSocket {
  private ws: WebSocket | undefined;
  private listeners = new Set<Listener>();
  private statusListeners = new Set<() => void>();
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wanted = false;
  status: LiveStatus = 'offline';
  /** Why the stream is down, for the indicator's tooltip. */
  detail = 'not connected';

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.open();
  }

  stop(): void {
    this.wanted = false;
    clearTimeout(this.timer);
    this.ws?.close(1000, 'logout');
    this.ws = undefined;
    this.set('offline', 'not connected');
  }

  private set(status: LiveStatus, detail: string): void {
    this.status = status;
    this.detail = detail;
    for (const l of this.statusListeners) l();
  }

  private open(): void {
    const token = api.token;
    if (token === undefined) {
      void api.refresh().then((ok) => (ok ? this.open() : this.set('offline', 'signed out')));
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws?access_token=${encodeURIComponent(token)}`);
    this.ws = ws;
    this.set('connecting', 'connecting to the event stream');
    ws.onmessage = (m) => {
      let e: LiveEvent;
      try {
        e = JSON.parse(String(m.data)) as LiveEvent;
      } catch {
        return;
      }
      if (e.type === 'hello') {
        this.retry = 0;
        this.set('live', 'receiving live events');
      }
      for (const l of this.listeners) l(e);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (!this.wanted) return;
      if (ev.code === FORBIDDEN) {
        this.set('offline', 'your role may not read live events');
        return;
      }
      const delay = Math.min(30_000, 1000 * 2 ** this.retry++);
      this.set('offline', `disconnected; retrying in ${Math.round(delay / 1000)} s`);
      this.timer = setTimeout(() => {
        if (ev.code === UNAUTHORIZED) void api.refresh().then(() => this.open());
        else this.open();
      }, ev.code === UNAUTHORIZED ? 0 : delay);
    };
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  subscribeStatus(l: () => void): () => void {
    this.statusListeners.add(l);
    return () => this.statusListeners.delete(l);
  }
}

export const live = new LiveSocket();

/** Calls `handler` for every live event (keep it stable or cheap: it is re-subscribed when it changes). */
export function useLiveEvents(handler: Listener): void {
  useEffect(() => live.subscribe(handler), [handler]);
}

export function useLiveStatus(): { status: LiveStatus; detail: string } {
  const status = useSyncExternalStore(
    (l) => live.subscribeStatus(l),
    () => live.status,
  );
  const [detail, setDetail] = useState(live.detail);
  useEffect(() => live.subscribeStatus(() => setDetail(live.detail)), []);
  return { status, detail };
}
