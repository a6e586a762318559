import { useStepLogs } from "../../api/queries";
import { ErrorBox, Loading } from "../../components/ErrorBox";

/**
 * A step's captured logs and, when it failed, its traceback. While the step runs, its output
 * so far (the server's live tail, marked "streaming"), refreshed when the live feed says the
 * step printed more (api/live.ts) and replaced by the full log once the step is recorded.
 */
export function StepLogsPanel({
  runId,
  step,
  live,
  onClose,
}: {
  runId: string;
  step: string;
  live: boolean;
  onClose: () => void;
}) {
  const logs = useStepLogs(runId, step, live);
  return (
    <section className="logs" aria-label={`Logs of step ${step}`} data-testid="logs-panel" data-step={step}>
      <header>
        <h2>
          Logs: <span className="mono">{step}</span>
          {logs.data?.live ? (
            <span className="muted live" data-testid="logs-streaming" title="The step is running: its output so far">
              {" "}
              streaming
            </span>
          ) : null}
        </h2>
        <button type="button" onClick={onClose} data-testid="logs-close">
          Close
        </button>
      </header>
      {logs.isLoading ? <Loading what="logs" /> : null}
      <ErrorBox error={logs.error} />
      {logs.data ? (
        <>
          <pre className="log-text" data-testid="logs-text" data-live={logs.data.live ? "true" : "false"}>
            {logs.data.logs || (logs.data.live ? "(no output yet)" : "(no output)")}
          </pre>
          {logs.data.traceback ? (
            <>
              <h3>Traceback</h3>
              <pre className="log-text traceback" data-testid="traceback">
                {logs.data.traceback}
              </pre>
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
