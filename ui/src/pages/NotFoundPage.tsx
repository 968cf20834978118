import { Link, useLocation } from 'react-router-dom';
import { EmptyState } from '../components/EmptyState';

export function NotFoundPage() {
  const loc = useLocation();
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <EmptyState title={`Nothing lives at ${loc.pathname}`} action={<Link className="btn" to="/">Go to the dashboard</Link>}>
        <p>The link may be old or mistyped. Use the navigation on the left to find what you need.</p>
      </EmptyState>
    </>
  );
}
