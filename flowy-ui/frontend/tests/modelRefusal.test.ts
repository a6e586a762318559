import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { refusal } from "../src/lib/refusal";

describe("refusal", () => {
  it("names the token's role and what to ask for", () => {
    const error = new ApiError(
      403,
      "forbidden",
      "Token 'vic' has the viewer role; this needs editor (create one with `flowy ui token create NAME --role editor`).",
    );
    expect(refusal(error, "promote")).toBe(
      "Your token's role (viewer) cannot promote; ask an admin for an editor token.",
    );
  });

  it("says when the server is read-only", () => {
    expect(refusal(new ApiError(403, "read_only", "read-only"), "roll back")).toBe(
      "This server runs read-only: nothing can roll back here.",
    );
  });

  it("leaves other errors to the error box", () => {
    expect(refusal(new ApiError(404, "not_found", "no version 9"), "promote")).toBeNull();
    expect(refusal(new Error("network"), "promote")).toBeNull();
    expect(refusal(null, "promote")).toBeNull();
  });
});
