import { NavLink, Navigate, Route, Routes, useLocation, Link } from "react-router-dom";
import { useLive } from "./api/live";
import { useHealth } from "./api/queries";
import { LiveIndicator } from "./components/LiveIndicator";
import { TokenField } from "./components/TokenField";
import { ArtifactPage } from "./pages/artifact/ArtifactPage";
import { ArtifactsPage } from "./pages/artifacts/ArtifactsPage";
import { CompareRoute } from "./pages/experiments/CompareRoute";
import { ExperimentPage, ExperimentsPage } from "./pages/experiments/ExperimentPage";
import { ModelPage, ModelsPage } from "./pages/models/ModelsPage";
import { RunPage } from "./pages/run/RunPage";
import { RunsPage } from "./pages/runs/RunsPage";
import { StacksPage } from "./pages/stacks/StacksPage";

export function App() {
  useLive(); // run-level changes of every run: the runs list stays current without polling
  return (
    <div className="app">
      <header className="top">
        <Link to="/" className="brand">
          Flowy
        </Link>
        <nav aria-label="Main">
          <NavLink to="/runs">Runs</NavLink>
          <NavLink to="/experiments">Experiments</NavLink>
          <NavLink to="/artifacts">Artifacts</NavLink>
          <NavLink to="/models">Models</NavLink>
          <NavLink to="/stacks">Stacks</NavLink>
        </nav>
        <LiveIndicator />
        <TokenField />
      </header>
      <main>
        <Routes>
          <Route path="/" element={<RunsPage />} />
          <Route path="/runs" element={<RunsPage />} />
          <Route path="/runs/:runId" element={<RunPage />} />
          <Route path="/artifacts" element={<ArtifactsPage />} />
          <Route path="/artifacts/:artifactId" element={<ArtifactPage />} />
          <Route path="/experiments" element={<ExperimentsPage />} />
          <Route path="/experiments/:name" element={<ExperimentPage />} />
          <Route path="/experiments/:name/compare" element={<CompareRoute />} />
          <Route path="/compare" element={<CompareRoute />} />
          <Route path="/models" element={<ModelsPage />} />
          <Route path="/models/:name" element={<ModelPage />} />
          <Route path="/stacks" element={<StacksPage />} />
          <Route path="/index.html" element={<Navigate to="/" replace />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
      <Footer />
    </div>
  );
}

function NotFound() {
  const location = useLocation();
  return (
    <>
      <h1>Not found</h1>
      <p>
        No page at <span className="mono">{location.pathname}</span>. <Link to="/runs">See the runs</Link>.
      </p>
    </>
  );
}

function Footer() {
  const health = useHealth();
  return (
    <footer className="bottom muted" data-testid="footer">
      flowy-ui{health.data?.version ? ` ${health.data.version}` : ""}
      {health.isError ? " · server unreachable" : ""}
    </footer>
  );
}
