import { ApiError } from "../api/client";

/** An API or network error, as the server worded it. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message =
    error instanceof ApiError
      ? `${error.message} (${error.code})`
      : error instanceof Error
        ? error.message
        : typeof error === "string"
          ? error
          : "Something went wrong.";
  const auth = error instanceof ApiError && error.status === 401;
  return (
    <div className="error" role="alert" data-testid="error">
      {auth ? "This server needs an API token: enter it above. " : null}
      {message}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}
