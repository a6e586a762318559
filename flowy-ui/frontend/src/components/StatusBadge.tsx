import { statusClass } from "../lib/format";

export function StatusBadge({ status }: { status: string | null | undefined }) {
  return (
    <span className={`badge ${statusClass(status)}`} data-status={status ?? ""}>
      {status ?? "unknown"}
    </span>
  );
}
