import { lazy, Suspense } from "react";
import { Loading } from "../../components/ErrorBox";

// The compare page is its own chunk: it loads only when a comparison is opened.
const ComparePage = lazy(() => import("./ComparePage"));

/** `/experiments/<name>/compare?runs=a,b` and `/compare?runs=a,b`. */
export function CompareRoute() {
  return (
    <Suspense fallback={<Loading what="the comparison" />}>
      <ComparePage />
    </Suspense>
  );
}
