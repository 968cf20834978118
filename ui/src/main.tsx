import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider, createBrowserRouter } from 'react-router-dom';
import { SessionProvider, useSession } from './api/session';
import { Layout } from './components/Layout';
import { LoginPage } from './pages/LoginPage';
import { ROUTES } from './routes';
import './styles.css';

const router = createBrowserRouter([{ path: '/', element: <Layout />, children: ROUTES }]);

/** Login until signed in, then the routed app; the URL is kept, so a reload or a shared link lands on its page after login. */
function App() {
  const { state } = useSession();
  if (state.status === 'loading')
    return (
      <p className="splash" role="status">
        Restoring your session…
      </p>
    );
  if (state.status === 'anonymous') return <LoginPage reason={state.reason} />;
  return <RouterProvider router={router} />;
}

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <SessionProvider>
      <App />
    </SessionProvider>
  </StrictMode>,
);
