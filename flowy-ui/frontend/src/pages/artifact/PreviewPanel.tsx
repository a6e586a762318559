import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { ApiError } from "../../api/client";
import { useArtifactPreview } from "../../api/queries";
import { getAuth } from "../../api/token";
import type { ArtifactPreview, Cell, PreviewColumn, PreviewHistogram } from "../../api/types";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { Facts } from "../../components/Facts";
import { formatBytes, formatCell, formatNumber } from "../../lib/format";
import { histogramBars } from "../../lib/histogram";

const HIST_WIDTH = 480;
const HIST_HEIGHT = 120;

/** What the artifact holds, as the server summarised it (bounded in size and time). */
export function PreviewPanel({ artifactId }: { artifactId: string }) {
  const preview = useArtifactPreview(artifactId);
  return (
    <section aria-label="Preview" data-testid="preview" data-kind={preview.data?.kind ?? ""}>
      <h2>Preview</h2>
      {preview.isLoading ? <Loading what="preview" /> : null}
      <ErrorBox error={preview.error} />
      {preview.data ? <PreviewBody preview={preview.data} /> : null}
    </section>
  );
}

function PreviewBody({ preview }: { preview: ArtifactPreview }) {
  switch (preview.kind) {
    case "frame":
      return <FramePreview preview={preview} />;
    case "array":
      return <ArrayPreview preview={preview} />;
    case "image":
      return <ImagePreview preview={preview} />;
    case "json":
    case "text":
      return <TextPreview text={preview.text ?? ""} truncated={preview.truncated} length={preview.length} />;
    case "model":
      return <ModelCard preview={preview} />;
    default:
      return <NoPreview preview={preview} />;
  }
}

const NO_PREVIEW: Record<string, string> = {
  too_large: "Too large to preview",
  timed_out: "The preview took too long",
  unsafe: "Not loaded: unsafe to load",
  none: "No preview",
};

function NoPreview({ preview }: { preview: ArtifactPreview }) {
  return (
    <p className="muted" data-testid="preview-message">
      <strong>{NO_PREVIEW[preview.kind] ?? "No preview"}.</strong> {preview.message ?? ""}
      {preview.kind === "too_large" && preview.limit ? ` (limit ${formatBytes(preview.limit)})` : ""}
    </p>
  );
}

function cellText(value: Cell | undefined): string {
  return value === null || value === undefined ? "" : formatCell(value);
}

function FramePreview({ preview }: { preview: ArtifactPreview }) {
  const columns = preview.columns ?? [];
  const headColumns = preview.head_columns ?? [];
  const index = preview.head_index ?? [];
  return (
    <div data-testid="preview-frame">
      <Facts
        items={[
          ["Rows", formatNumber(preview.rows ?? 0)],
          ["Columns", formatNumber(preview.total_columns ?? columns.length)],
        ]}
      />
      <h3>First {preview.head?.length ?? 0} rows</h3>
      <div className="table-wrap">
        <table className="records preview-table" data-testid="preview-head">
          <thead>
            <tr>
              <th scope="col" className="muted">
                index
              </th>
              {headColumns.map((c, i) => (
                <th key={i} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {(preview.head ?? []).map((row, r) => (
              <tr key={r}>
                <td className="muted mono">{cellText(index[r])}</td>
                {row.map((value, c) => (
                  <td key={c} className={value === null ? "muted" : typeof value === "number" ? "num" : undefined}>
                    {value === null ? "null" : cellText(value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {preview.truncated ? <p className="muted">Only the first rows and columns are shown.</p> : null}
      <h3>Schema and statistics</h3>
      <SchemaTable columns={columns} />
    </div>
  );
}

const STAT_KEYS = ["count", "nulls", "mean", "std", "min", "max", "unique", "top"] as const;

function SchemaTable({ columns }: { columns: PreviewColumn[] }) {
  return (
    <div className="table-wrap">
      <table className="records preview-table" data-testid="preview-stats">
        <thead>
          <tr>
            <th scope="col">column</th>
            <th scope="col">dtype</th>
            {STAT_KEYS.map((k) => (
              <th key={k} scope="col">
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {columns.map((column, i) => (
            <tr key={i} data-column={column.name}>
              <td>{column.name}</td>
              <td className="mono">{column.dtype}</td>
              {STAT_KEYS.map((k) => (
                <td key={k} className="num">
                  {cellText(column.stats?.[k])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ArrayPreview({ preview }: { preview: ArtifactPreview }) {
  const stats = preview.stats;
  return (
    <div data-testid="preview-array">
      <Facts
        items={[
          ["Shape", <span className="mono">({(preview.shape ?? []).join(", ")})</span>],
          ["Dtype", <span className="mono">{preview.dtype}</span>],
          ["Values", formatNumber(preview.length ?? 0)],
          ["Finite", stats ? formatNumber(stats.count ?? 0) : null],
          ["NaN", stats?.nan ? formatNumber(stats.nan) : null],
          ["±Infinity", stats?.inf ? formatNumber(stats.inf) : null],
          ["Min", cellText(stats?.min)],
          ["Max", cellText(stats?.max)],
          ["Mean", cellText(stats?.mean)],
          ["Std", cellText(stats?.std)],
        ]}
      />
      {preview.histogram ? <Histogram histogram={preview.histogram} /> : null}
      <p className="muted">
        First values: <span className="mono">{(preview.values ?? []).map((v) => (v === null ? "NaN" : cellText(v))).join(", ")}</span>
        {preview.truncated ? ", …" : ""}
      </p>
    </div>
  );
}

function Histogram({ histogram }: { histogram: PreviewHistogram }) {
  const bars = histogramBars(histogram.counts, histogram.edges, HIST_WIDTH, HIST_HEIGHT);
  const first = histogram.edges[0];
  const last = histogram.edges[histogram.edges.length - 1];
  return (
    <figure className="histogram" data-testid="histogram">
      <svg
        width={HIST_WIDTH}
        height={HIST_HEIGHT}
        viewBox={`0 0 ${HIST_WIDTH} ${HIST_HEIGHT}`}
        role="img"
        aria-label={`Histogram of ${histogram.values} values in ${histogram.counts.length} bins`}
      >
        {bars.map((bar, i) => (
          <rect
            key={i}
            x={bar.x}
            y={bar.y}
            width={bar.width}
            height={bar.height}
            className="histogram-bar"
            data-testid="histogram-bar"
            data-count={bar.count}
          >
            <title>{`${cellText(bar.from)} – ${cellText(bar.to)}: ${bar.count}`}</title>
          </rect>
        ))}
      </svg>
      <figcaption className="muted">
        {cellText(first ?? null)} … {cellText(last ?? null)} · {formatNumber(histogram.values)} values
        {histogram.sampled ? " (a random sample)" : ""}
      </figcaption>
    </figure>
  );
}

/** The image route's bytes, fetched with the token (an <img> cannot send it). */
function useImageUrl(path: string) {
  return useQuery({
    queryKey: ["preview-image", path],
    queryFn: async ({ signal }) => {
      const { token } = getAuth();
      const response = await fetch(path, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        credentials: "same-origin",
        signal,
      });
      if (!response.ok) throw new ApiError(response.status, `http_${response.status}`, "The image could not be loaded.");
      return URL.createObjectURL(await response.blob());
    },
    staleTime: Infinity,
    gcTime: 0, // dropped with the page, whose cleanup below frees the blob
    retry: false,
  });
}

function ImagePreview({ preview }: { preview: ArtifactPreview }) {
  const image = useImageUrl(preview.image_url ?? "");
  const blobUrl = image.data;
  useEffect(() => () => (blobUrl ? URL.revokeObjectURL(blobUrl) : undefined), [blobUrl]);
  return (
    <div data-testid="preview-image-box">
      <Facts
        items={[
          ["Format", preview.media_type],
          ["Size", preview.width && preview.height ? `${preview.width} × ${preview.height} px` : null],
        ]}
      />
      <ErrorBox error={image.error} />
      {image.data ? (
        <img className="preview-image" src={image.data} alt={`Preview of artifact ${preview.artifact_id}`} data-testid="preview-image" />
      ) : null}
    </div>
  );
}

function TextPreview({ text, truncated, length }: { text: string; truncated?: boolean; length?: number | null }) {
  return (
    <>
      <pre className="json preview-text" data-testid="preview-text">
        {text}
      </pre>
      {truncated ? (
        <p className="muted">
          Only the first 64 KiB are shown{length ? ` (of ${formatNumber(length)})` : ""}; download it for the rest.
        </p>
      ) : null}
    </>
  );
}

function ModelCard({ preview }: { preview: ArtifactPreview }) {
  const params = Object.entries(preview.params ?? {});
  const facts = Object.entries(preview.facts ?? {});
  return (
    <div className="model-card" data-testid="preview-model">
      <Facts
        items={[
          ["Class", <span className="mono">{preview.class_name}</span>],
          ["Framework", preview.framework],
          ["Parameters", preview.parameter_count !== null && preview.parameter_count !== undefined ? formatNumber(preview.parameter_count) : "unknown"],
          ["Input features", preview.n_features_in ?? null],
          ["Classes", preview.n_classes ?? null],
          ["Coefficients", preview.coef_shape ? `(${preview.coef_shape.join(", ")})` : null],
        ]}
      />
      {params.length > 0 ? <KeyValues title="Settings" rows={params} testId="model-params" /> : null}
      {facts.length > 0 ? <KeyValues title="Recorded facts" rows={facts} testId="model-facts-recorded" /> : null}
      {preview.text ? <TextPreview text={preview.text} truncated={preview.truncated} /> : null}
    </div>
  );
}

function KeyValues({ title, rows, testId }: { title: string; rows: Array<[string, Cell]>; testId: string }) {
  return (
    <>
      <h3>{title}</h3>
      <table className="kv-table" data-testid={testId}>
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td className="mono">{cellText(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
