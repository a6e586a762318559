import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { downloadFile, enc } from "../../api/client";
import { useArtifact, useArtifactPreview, useLineage } from "../../api/queries";
import { getAuth } from "../../api/token";
import type { Artifact } from "../../api/types";
import { DagView, type DagNode } from "../../components/DagView";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { Facts } from "../../components/Facts";
import { formatBytes, formatTime, shortId } from "../../lib/format";
import { lineageSides } from "../../lib/lineage";
import { PreviewPanel } from "./PreviewPanel";

/** One artifact: its facts, a preview of what it holds, a download, its metadata, and its
 * lineage both ways as a graph whose nodes open the artifact they name. */
export function ArtifactPage() {
  const { artifactId = "" } = useParams();
  const artifact = useArtifact(artifactId);
  // The same query the preview panel makes (one request): it names the distribution.
  const preview = useArtifactPreview(artifact.data?.artifact_id ?? artifactId);
  const writtenBy = preview.data?.materializer_distribution;
  if (artifact.isLoading) return <Loading what="artifact" />;
  if (!artifact.data) return <ErrorBox error={artifact.error} />;
  const a = artifact.data;
  return (
    <>
      <p className="crumbs">
        <Link to="/artifacts">Artifacts</Link> /
      </p>
      <h1>
        {a.name} <span className="muted mono">{shortId(a.artifact_id)}</span>
      </h1>
      <Facts
        testId="artifact-facts"
        items={[
          ["Artifact", <span className="mono">{a.artifact_id}</span>],
          ["Type", a.type_name],
          ["Size", formatBytes(a.size)],
          ["Checksum", a.checksum ? <span className="mono">{a.checksum}</span> : null],
          ["Materializer", a.materializer],
          ["Written by", writtenBy ? <span data-testid="artifact-distribution">{writtenBy}</span> : null],
          ["Format", preview.data?.materializer_format ?? null],
          ["Run", a.run_id ? <Link to={`/runs/${enc(a.run_id)}`}>{shortId(a.run_id)}</Link> : null],
          [
            "Step",
            a.run_id && a.step ? <Link to={`/runs/${enc(a.run_id)}?step=${enc(a.step)}`}>{a.step}</Link> : a.step,
          ],
          ["Created", formatTime(a.created_at)],
        ]}
      />
      <DownloadLink artifact={a} />
      <PreviewPanel artifactId={a.artifact_id} />
      {a.metadata && Object.keys(a.metadata).length > 0 ? (
        <section aria-label="Metadata">
          <h2>Metadata</h2>
          <pre className="json" data-testid="artifact-metadata">
            {JSON.stringify(a.metadata, null, 2)}
          </pre>
        </section>
      ) : null}
      <LineageSection artifactId={a.artifact_id} />
    </>
  );
}

function DownloadLink({ artifact }: { artifact: Artifact }) {
  const [error, setError] = useState<unknown>(null);
  const href = `/api/v1/artifacts/${enc(artifact.artifact_id)}/download`;
  return (
    <div className="download">
      <a
        href={href}
        download
        data-testid="artifact-download"
        onClick={(event) => {
          // A link cannot send the token: with one set, fetch and save the file instead.
          if (!getAuth().token) return;
          event.preventDefault();
          setError(null);
          downloadFile(href, artifact.name || artifact.artifact_id).catch(setError);
        }}
      >
        Download
      </a>
      <ErrorBox error={error} />
    </div>
  );
}

function LineageSection({ artifactId }: { artifactId: string }) {
  const lineage = useLineage(artifactId);
  const navigate = useNavigate();
  const nodes = useMemo<DagNode[]>(() => {
    const side = lineageSides(artifactId, lineage.data?.edges ?? []);
    return (lineage.data?.nodes ?? []).map((n) => ({
      id: n.artifact_id,
      label: n.name || shortId(n.artifact_id),
      status: side.get(n.artifact_id) ?? null,
    }));
  }, [lineage.data, artifactId]);
  const byId = new Map((lineage.data?.nodes ?? []).map((n) => [n.artifact_id, n]));
  const edges = lineage.data?.edges ?? [];
  return (
    <section aria-label="Lineage" data-testid="lineage">
      <h2>Lineage</h2>
      {lineage.isLoading ? <Loading what="lineage" /> : null}
      <ErrorBox error={lineage.error} />
      {nodes.length > 1 ? (
        <DagView
          label="Lineage"
          nodes={nodes}
          edges={edges}
          selected={artifactId}
          onSelect={(id) => id !== artifactId && navigate(`/artifacts/${enc(id)}`)}
        />
      ) : null}
      {edges.length > 0 ? (
        <ul className="lineage-list" data-testid="lineage-list">
          {edges.map(([from, to]) => (
            <li key={`${from}\u0000${to}`}>
              <ArtifactRef artifact={byId.get(from)} id={from} current={artifactId} /> →{" "}
              <ArtifactRef artifact={byId.get(to)} id={to} current={artifactId} />
            </li>
          ))}
        </ul>
      ) : lineage.data ? (
        <p className="muted">No lineage: nothing produced this artifact from others, or consumed it.</p>
      ) : null}
    </section>
  );
}

function ArtifactRef({ artifact, id, current }: { artifact?: Artifact; id: string; current: string }) {
  const label = `${artifact?.name ?? "artifact"} (${shortId(id)})`;
  if (id === current) return <strong>{label}</strong>;
  return (
    <Link to={`/artifacts/${enc(id)}`} data-testid="lineage-link">
      {label}
    </Link>
  );
}
