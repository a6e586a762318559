// The API token a user typed in, kept for this tab only (sessionStorage), and whether
// the server has asked for one (a 401). A tiny store React reads with
// useSyncExternalStore.

const KEY = "flowy.token";

interface AuthState {
  token: string | null;
  /** The server answered 401: the token field is shown. */
  required: boolean;
}

let state: AuthState = { token: readToken(), required: false };
const listeners = new Set<() => void>();

function readToken(): string | null {
  try {
    return window.sessionStorage.getItem(KEY) || null;
  } catch {
    return null;
  }
}

function emit(next: AuthState): void {
  state = next;
  for (const listener of listeners) listener();
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getAuth(): AuthState {
  return state;
}

export function setToken(token: string | null): void {
  const value = token?.trim() || null;
  try {
    if (value) window.sessionStorage.setItem(KEY, value);
    else window.sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled: the token lives in memory for this page only.
  }
  emit({ token: value, required: false });
}

export function markAuthRequired(): void {
  if (!state.required) emit({ ...state, required: true });
}
