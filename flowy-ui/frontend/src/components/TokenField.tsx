import { useQueryClient } from "@tanstack/react-query";
import { useState, useSyncExternalStore, type FormEvent } from "react";
import { getAuth, setToken, subscribe } from "../api/token";

/**
 * The API token field: shown once the server has answered 401, or while a token is set
 * (so it can be changed or forgotten). The token stays in this tab (sessionStorage).
 */
export function TokenField() {
  const auth = useSyncExternalStore(subscribe, getAuth);
  const client = useQueryClient();
  const [draft, setDraft] = useState("");
  if (!auth.required && !auth.token) return null;

  const save = (event: FormEvent) => {
    event.preventDefault();
    setToken(draft);
    setDraft("");
    void client.invalidateQueries();
  };
  const forget = () => {
    setToken(null);
    void client.invalidateQueries();
  };
  return (
    <form className="token" onSubmit={save} data-testid="token-form">
      <label htmlFor="flowy-token">{auth.required ? "API token required" : "API token"}</label>
      <input
        id="flowy-token"
        data-testid="token-field"
        type="password"
        autoComplete="off"
        placeholder={auth.token ? "set (enter a new one to replace)" : "paste a token"}
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
      />
      <button type="submit" disabled={!draft.trim()}>
        Use
      </button>
      {auth.token ? (
        <button type="button" onClick={forget} data-testid="token-forget">
          Forget
        </button>
      ) : null}
    </form>
  );
}
