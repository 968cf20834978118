import type { ReactNode } from 'react';

/** Nothing to show, what that means, and what to do about it. */
export function EmptyState({ title, children, action }: { readonly title: string; readonly children?: ReactNode; readonly action?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <p className="empty-title">{title}</p>
      {children !== undefined && <div className="empty-body">{children}</div>}
      {action !== undefined && <div className="empty-action">{action}</div>}
    </div>
  );
}
