import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  readonly label: string;
  readonly color: string;
  /** One value per x (null: no sample). */
  readonly values: readonly (number | null)[];
}

/**
 * A small live line chart (uPlot): x in Unix seconds. Redraws in place when
 * the data changes and follows its container's width.
 */
export function TimeSeriesChart({ title, xs, series, unit, height = 180, windowSeconds = 900, note }: { readonly title: string; readonly xs: readonly number[]; readonly series: readonly Series[]; readonly unit: string; readonly height?: number; readonly windowSeconds?: number; readonly note?: string | undefined }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      // Always the last 15 minutes, so an empty or young chart does not stretch one point over years.
      scales: { x: { time: true, range: (_u, _min, max) => { const end = Number.isFinite(max) && max > 0 ? max : Date.now() / 1000; return [end - windowSeconds, end]; } }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [{ stroke: '#5b6675', grid: { stroke: '#e6e9ee' }, values: (_u, splits) => splits.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })) }, { stroke: '#5b6675', grid: { stroke: '#e6e9ee' }, label: unit, size: 56 }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: `${s.color}22`, points: { show: false } }))],
    };
    const p = new uPlot(opts, [[], ...series.map(() => [])] as unknown as uPlot.AlignedData, el);
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = undefined;
    };
    // Rebuilt only when the set of series changes; data updates go through setData below.
  }, [shape, height, unit, windowSeconds]);

  useEffect(() => {
    plot.current?.setData([xs as number[], ...series.map((s) => s.values as (number | null)[])] as uPlot.AlignedData);
  }, [xs, series]);

  return (
    <figure className="chart">
      <figcaption>
        {title}
        {note !== undefined && <span className="chart-note">{note}</span>}
      </figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s) => `${s.label} ${String(s.values[s.values.length - 1] ?? 0)} ${unit}`).join(', ')}`} />
    </figure>
  );
}
