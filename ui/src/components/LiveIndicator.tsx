import { useLiveStatus } from '../api/live';

const LABEL = { live: 'Live', connecting: 'Connecting', offline: 'Offline' } as const;

/** Whether the WebSocket feeds this page right now; the detail says why not. */
export function LiveIndicator() {
  const { status, detail } = useLiveStatus();
  return (
    <span className={`live live-${status}`} title={detail} role="status" aria-live="polite">
      <span className="live-dot" aria-hidden="true" />
      {LABEL[status]}
      <span className="sr-only">: {detail}</span>
    </span>
  );
}
