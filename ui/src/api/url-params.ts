import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router-dom';

/**
 * A text box bound to one URL parameter, as search boxes are: the box
 * follows the URL (Back and Forward included), and what is typed reaches
 * the URL once typing pauses for `ms`, replacing the history entry (one per
 * search, not one per pause) and going back to the first page.
 */
export function useDebouncedUrlParam(name: string, ms = 300): [string, (text: string) => void] {
  const [params, setParams] = useSearchParams();
  const value = params.get(name) ?? '';
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return;
    const t = setTimeout(
      () =>
        setParams(
          (prev) => {
            const next = new URLSearchParams(prev);
            if (text === '') next.delete(name);
            else next.set(name, text);
            next.delete('offset');
            return next;
          },
          { replace: true },
        ),
      ms,
    );
    return () => clearTimeout(t);
  }, [text, value, name, ms, setParams]);
  return [text, setText];
}
