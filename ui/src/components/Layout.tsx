import { useEffect } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router-dom';
import { live } from '../api/live';
import { liveStats } from '../api/live-stats';
import { useSession, useSignedIn } from '../api/session';
import { NAV } from '../routes';
import { LiveIndicator } from './LiveIndicator';

/** The signed-in shell: header (live status, user, role, logout), navigation from the route table, the page. */
export function Layout() {
  const { me, meta } = useSignedIn();
  const { logout } = useSession();
  const loc = useLocation();

  useEffect(() => {
    live.start();
    liveStats.start();
    return () => {
      liveStats.stop();
      live.stop();
    };
  }, []);

  // Focus the page heading after navigation, so keyboard and screen-reader users start at the new page.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [loc.pathname]);

  const groups = [...new Set(NAV.map((n) => n.group))];
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="dcplane dashboard">
          <img src="/favicon.svg" alt="" width="22" height="22" />
          dcplane
        </NavLink>
        <div className="topbar-right">
          <LiveIndicator />
          <span className="user">
            <span className="user-name">{me.username}</span>
            <span className={`role role-${me.role}`} title={me.read_only ? 'read-only token' : `role: ${me.role}`}>
              {me.role}
              {me.read_only ? ' (read-only)' : ''}
            </span>
          </span>
          <button type="button" className="btn btn-small btn-ghost" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <nav className="sidenav" aria-label="Main">
        {groups.map((g) => {
          const items = NAV.filter((n) => n.group === g && (n.api === undefined || meta.byPath.get(n.api)?.readable !== false) && (n.adminOnly !== true || me.role === 'admin'));
          if (items.length === 0) return null;
          return (
            <div key={g} className="nav-group">
              <p className="nav-title">{g}</p>
              <ul>
                {items.map((n) => (
                  <li key={n.to}>
                    <NavLink to={n.to} end={n.to === '/'}>
                      {n.label}
                    </NavLink>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
      </nav>
      <main id="main" className="content">
        <Outlet />
      </main>
    </div>
  );
}
