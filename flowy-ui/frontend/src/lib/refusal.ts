// Why a write (promote, roll back) was refused, in words a user can act on. Pure.
import { ApiError } from "../api/client";

/** A sentence for a 403 (the token's role, or a read-only server); null for other errors. */
export function refusal(error: unknown, action: string): string | null {
  if (!(error instanceof ApiError)) return null;
  if (error.code === "read_only") return `This server runs read-only: nothing can ${action} here.`;
  if (error.status === 403) {
    const role = /has the (\w+) role/.exec(error.message)?.[1] ?? "viewer";
    return `Your token's role (${role}) cannot ${action}; ask an admin for an editor token.`;
  }
  return null;
}
