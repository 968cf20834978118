import { useSyncExternalStore } from 'react';
import { live } from './live';
import type { LiveEvent } from './live';

/** Seconds between chart points; each point is the rate over the minute before it. */
export const SAMPLE_SECONDS = 5;
const HISTORY_POINTS = 180; // 15 minutes
const WINDOW_MS = 60_000;

export interface LiveSample {
  /** Unix seconds. */
  readonly t: number;
  readonly leasesPerMinute: number;
  readonly offersPerMinute: number;
  readonly tftpStartsPerMinute: number;
  /** Bytes per second of TFTP transfers that ended in the last minute. */
  readonly tftpBytesPerSecond: number;
}

export interface LiveStats {
  readonly samples: readonly LiveSample[];
  /** Newest first, at most 50: what booted, leased, changed. */
  readonly recent: readonly LiveEvent[];
}

/**
 * Rolling figures from the WebSocket, kept for the whole session (not per
 * page), so the dashboard's charts have history when you come back to it:
 * DHCP acks and offers, TFTP transfer starts and bytes per minute.
 */
class LiveStatsStore {
  private acks: number[] = [];
  private offers: number[] = [];
  private starts: number[] = [];
  private ends: { at: number; bytes: number }[] = [];
  private state: LiveStats = { samples: [], recent: [] };
  private listeners = new Set<() => void>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;

  start(): void {
    if (this.timer !== undefined) return;
    this.unsubscribe = live.subscribe((e) => this.record(e));
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_SECONDS * 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.acks = [];
    this.offers = [];
    this.starts = [];
    this.ends = [];
    this.state = { samples: [], recent: [] };
    this.emit();
  }

  private record(e: LiveEvent): void {
    const now = Date.now();
    if (e.type === 'dhcp') {
      if (e.data['event'] === 'ack') this.acks.push(now);
      else if (e.data['event'] === 'offer') this.offers.push(now);
    } else if (e.type === 'tftp') {
      const t = e.data['transfer'] as Record<string, unknown> | undefined;
      if (e.data['event'] === 'start') this.starts.push(now);
      else if (e.data['event'] === 'end') this.ends.push({ at: now, bytes: typeof t?.['bytes'] === 'number' ? t['bytes'] : 0 });
    } else if (e.type !== 'inventory') {
      return;
    }
    this.state = { ...this.state, recent: [e, ...this.state.recent].slice(0, 50) };
    this.emit();
  }

  private sample(): void {
    const now = Date.now();
    const since = now - WINDOW_MS;
    this.acks = this.acks.filter((t) => t >= since);
    this.offers = this.offers.filter((t) => t >= since);
    this.starts = this.starts.filter((t) => t >= since);
    this.ends = this.ends.filter((x) => x.at >= since);
    const s: LiveSample = {
      t: Math.floor(now / 1000),
      leasesPerMinute: this.acks.length,
      offersPerMinute: this.offers.length,
      tftpStartsPerMinute: this.starts.length,
      tftpBytesPerSecond: this.ends.reduce((n, x) => n + x.bytes, 0) / (WINDOW_MS / 1000),
    };
    this.state = { ...this.state, samples: [...this.state.samples, s].slice(-HISTORY_POINTS) };
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }

  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get snapshot(): LiveStats {
    return this.state;
  }
}

export const liveStats = new LiveStatsStore();

export function useLiveStats(): LiveStats {
  return useSyncExternalStore(
    (l) => liveStats.subscribe(l),
    () => liveStats.snapshot,
  );
}
