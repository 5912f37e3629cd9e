import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrf, whenSignedOut } from './api.ts';
import { href, useRoute } from './route.ts';
import { Loading } from './ui.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Connections } from './pages/Connections.tsx';
import { Connect } from './pages/Connect.tsx';
import { Connection } from './pages/Connection.tsx';
import { Organizations, Organization } from './pages/Organizations.tsx';
import { Data, Record as RecordPage } from './pages/Data.tsx';
import { Tax } from './pages/Tax.tsx';
import { Playground } from './pages/Playground.tsx';
import './styles.css';

const NAV: Array<[string, string]> = [
  ['connections', 'Connections'],
  ['organizations', 'Organizations'],
  ['data', 'Data'],
  ['tax', 'Tax'],
  ['playground', 'Spec playground'],
];

function App() {
  const [state, setState] = useState<'checking' | 'out' | 'in'>('checking');
  const route = useRoute();
  useEffect(() => {
    whenSignedOut(() => {
      setCsrf(undefined);
      setState('out');
    });
    api('GET', '/console/session').then(
      (r) => {
        setCsrf(r.data.csrf_token);
        setState('in');
      },
      () => setState('out'),
    );
  }, []);
  if (state === 'checking') return <Loading />;
  if (state === 'out') return <SignIn onSignedIn={() => setState('in')} />;

  const section = route[0] ?? 'connections';
  const signOut = async () => {
    await api('DELETE', '/console/session').catch(() => undefined);
    setCsrf(undefined);
    setState('out');
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href={href('connections')}>taxbridge</a>
        <nav aria-label="Sections">
          <ul>
            {NAV.map(([k, label]) => (
              <li key={k}>
                <a href={href(k)} aria-current={section === k ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="secondary signout" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </div>
  );
}

function Page({ route }: { route: string[] }) {
  const [section = 'connections', a, b, c] = route;
  switch (section) {
    case 'connections':
      return a ? <Connection id={a} /> : <Connections />;
    case 'connect':
      return <Connect connector={a ?? ''} />;
    case 'organizations':
      return a ? <Organization id={a} /> : <Organizations />;
    case 'playground':
      return <Playground />;
    case 'tax':
      return <Tax />;
    case 'data':
      return b && c ? <RecordPage connection={a!} entity={b} id={c} /> : <Data connection={a} entity={b} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page here. <a href={href('connections')}>Go to Connections</a>.
          </p>
        </section>
      );
  }
}

render(<App />, document.getElementById('app')!);
