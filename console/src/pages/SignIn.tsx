import { useState } from 'preact/hooks';
import { api, setCsrf } from '../api.ts';
import { ErrorBox, Field, errorFor } from '../ui.tsx';

export function SignIn(props: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await api('POST', '/console/session', { token: token.trim() });
      setCsrf(r.data.csrf_token);
      setToken('');
      props.onSignedIn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <h1>taxbridge console</h1>
      <form onSubmit={submit} class="card">
        <Field
          label="Admin token"
          name="token"
          type="password"
          value={token}
          onInput={setToken}
          required
          autoComplete="current-password"
          hint="Printed once when taxbridge serve first started (or TAXBRIDGE_ADMIN_TOKEN). It is kept only in a secure session cookie."
          error={errorFor(error, 'token')}
        />
        <ErrorBox error={error} fields={['token']} />
        <button type="submit" disabled={busy || !token}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
