import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { api } from './client';
import { indexMeta } from './meta';
import type { MetaIndex, ResourceMeta } from './meta';

export type Role = 'admin' | 'operator' | 'viewer';

export interface Me {
  readonly user_id: number;
  readonly username: string;
  readonly role: Role;
  readonly tenant_ids: readonly number[];
  readonly read_only: boolean;
}

export type SessionState =
  | { readonly status: 'loading' }
  | { readonly status: 'anonymous'; readonly reason?: string }
  | { readonly status: 'signed-in'; readonly me: Me; readonly meta: MetaIndex };

interface SessionApi {
  readonly state: SessionState;
  login(username: string, password: string, otp?: string): Promise<void>;
  logout(): Promise<void>;
}

const SessionContext = createContext<SessionApi | undefined>(undefined);

async function loadSignedIn(): Promise<SessionState> {
  const [me, meta] = await Promise.all([api.get<Me>('/api/v1/auth/me'), api.get<{ resources: ResourceMeta[] }>('/api/v1/meta/resources')]);
  return { status: 'signed-in', me, meta: indexMeta(meta.resources) };
}

/** Who is signed in, restored on a reload from the tab's refresh token (client.ts says why it lives there). */
export function SessionProvider({ children }: { readonly children: ReactNode }) {
  const [state, setState] = useState<SessionState>(() => (api.hasStoredSession ? { status: 'loading' } : { status: 'anonymous' }));

  useEffect(() => {
    api.onSessionLost = () => setState({ status: 'anonymous', reason: 'Your session has ended (expired or logged out elsewhere). Log in again to continue.' });
    if (!api.hasStoredSession) return;
    let live = true;
    void (async () => {
      const ok = await api.refresh();
      if (!live) return;
      if (!ok) {
        setState({ status: 'anonymous', ...(api.hasStoredSession ? { reason: 'The server could not be reached to restore your session. Check that dcplane is running, then reload.' } : {}) });
        return;
      }
      try {
        const s = await loadSignedIn();
        if (live) setState(s);
      } catch {
        if (live) setState({ status: 'anonymous' });
      }
    })();
    return () => {
      live = false;
    };
  }, []);

  const login = useCallback(async (username: string, password: string, otp?: string) => {
    await api.login(username, password, otp);
    setState(await loadSignedIn());
  }, []);

  const logout = useCallback(async () => {
    await api.logout();
    setState({ status: 'anonymous', reason: 'You have logged out.' });
  }, []);

  const value = useMemo(() => ({ state, login, logout }), [state, login, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const s = useContext(SessionContext);
  if (s === undefined) throw new Error('useSession outside SessionProvider');
  return s;
}

/** The signed-in user and resource metadata; only inside the signed-in shell. */
export function useSignedIn(): { readonly me: Me; readonly meta: MetaIndex } {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useSignedIn outside the signed-in shell');
  return state;
}
