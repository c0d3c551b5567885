import { useState } from 'preact/hooks';

/** Sign in: paste a token (nrec token create); it stays in this tab's sessionStorage only. */
export function Login({ onSignIn, message }: { onSignIn: (token: string) => Promise<void>; message?: string }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(message);
  return (
    <main class="login">
      <h1>nrec operator console</h1>
      <form onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        onSignIn(token.trim()).catch((err: Error) => setError(err.message)).finally(() => setBusy(false));
      }}>
        <label>API token
          <input type="password" name="token" autoComplete="off" spellcheck={false} placeholder="nrec_…" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={busy || token.trim() === ''}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {error !== undefined ? <p class="error" role="alert">{error}</p> : null}
        <p class="muted">An administrator makes tokens with <code>nrec token create --role operator --name "Your Name"</code>. The token stays in this browser tab (closing it signs you out); the name is what the desk records when you acknowledge.</p>
      </form>
    </main>
  );
}
