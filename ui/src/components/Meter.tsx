/** A utilisation bar with its figure in words; amber from 75 %, red from 90 %. */
export function Meter({ label, ratio, text, small = false }: { readonly label?: string; readonly ratio: number | null; readonly text: string; readonly small?: boolean }) {
  const r = ratio === null ? 0 : Math.max(0, Math.min(1, ratio));
  const tone = ratio === null ? 'none' : r >= 0.9 ? 'bad' : r >= 0.75 ? 'warn' : 'ok';
  return (
    <div className={`meter${small ? ' meter-small' : ''}`}>
      {label !== undefined && <span className="meter-label">{label}</span>}
      <span className="meter-bar" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(r * 100)} aria-label={label ?? text} aria-valuetext={text}>
        <span className={`meter-fill meter-${tone}`} style={{ width: `${r * 100}%` }} />
      </span>
      <span className="meter-text">{text}</span>
    </div>
  );
}
