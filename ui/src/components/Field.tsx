import { useId } from 'react';
import type { ReactElement, ReactNode } from 'react';
import { cloneElement } from 'react';

/**
 * A labelled control with its hint and the server's error for it. The child
 * control gets the id, aria-invalid and aria-describedby, so a screen reader
 * reads the error with the field.
 */
export function Field({ label, hint, error, required, children, wide }: { readonly label: string; readonly hint?: ReactNode; readonly error?: string | undefined; readonly required?: boolean; readonly children: ReactElement<Record<string, unknown>>; readonly wide?: boolean }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  const described = [hint !== undefined ? hintId : undefined, error !== undefined ? errId : undefined].filter((x) => x !== undefined).join(' ');
  const control = cloneElement(children, {
    id,
    'aria-invalid': error !== undefined ? true : undefined,
    'aria-describedby': described === '' ? undefined : described,
    'aria-required': required === true ? true : undefined,
  });
  return (
    <div className={`field${error !== undefined ? ' field-invalid' : ''}${wide === true ? ' field-wide' : ''}`}>
      <label htmlFor={id}>
        {label}
        {required === true && (
          <span className="req" aria-hidden="true">
            {' '}*
          </span>
        )}
      </label>
      {control}
      {hint !== undefined && (
        <small id={hintId} className="hint">
          {hint}
        </small>
      )}
      {error !== undefined && (
        <small id={errId} className="field-error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}
