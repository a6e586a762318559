import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, enc, postJson } from "../../api/client";
import { ErrorBox } from "../../components/ErrorBox";
import "./run.css";

/**
 * "Cancel run" for a running run: asks for confirmation, then POST /api/v1/runs/{id}/cancel
 * (202: the run's orchestrator stops it shortly, as Ctrl-C would; 409: it is not running
 * any more; 403: a viewer's token, or a read-only server). The server's message is shown
 * as it is.
 */
export function CancelRun({ runId }: { runId: string }) {
  const client = useQueryClient();
  const [asking, setAsking] = useState(false);
  const cancel = useMutation({
    mutationFn: () => postJson<unknown>(`/api/v1/runs/${enc(runId)}/cancel`),
    onSettled: () => {
      setAsking(false);
      void client.invalidateQueries({ queryKey: ["run", runId] });
      void client.invalidateQueries({ queryKey: ["dag", runId] });
    },
  });
  const refused = cancel.error instanceof ApiError && cancel.error.status === 403;
  return (
    <div className="cancel-run" data-testid="cancel-run">
      {asking ? (
        <div role="alertdialog" aria-modal="false" aria-labelledby="cancel-question" className="confirm" data-testid="cancel-confirm">
          <p id="cancel-question">
            Cancel run <span className="mono">{runId}</span>? Its running steps are stopped and recorded as cancelled.
          </p>
          <button type="button" className="danger" data-testid="cancel-yes" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            {cancel.isPending ? "Cancelling…" : "Yes, cancel the run"}
          </button>{" "}
          <button type="button" data-testid="cancel-no" onClick={() => setAsking(false)} autoFocus>
            Keep it running
          </button>
        </div>
      ) : (
        <button type="button" className="danger" data-testid="cancel-button" onClick={() => setAsking(true)} disabled={cancel.isSuccess}>
          {cancel.isSuccess ? "Cancel requested" : "Cancel run"}
        </button>
      )}
      {cancel.isSuccess ? (
        <span className="muted" role="status" data-testid="cancel-requested">
          {" "}
          Cancel requested: the run stops shortly.
        </span>
      ) : null}
      {cancel.error ? (
        <div data-testid="cancel-error">
          <ErrorBox error={cancel.error} />
          {refused ? <p className="muted">Cancelling needs an editor's token.</p> : null}
        </div>
      ) : null}
    </div>
  );
}
