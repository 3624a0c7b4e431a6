import { describe, expect, it } from "vitest";
import { isRoleName, objectNameToRole, roleToObjectName } from "./names.ts";

describe("role names", () => {
  it("maps roles to object names and back", () => {
    for (const role of ["batch", "eng/frontend", "a/b-c/d0"]) {
      expect(objectNameToRole(roleToObjectName(role))).toBe(role);
    }
    expect(roleToObjectName("eng/frontend")).toBe("eng.frontend");
    expect(objectNameToRole("eng.frontend")).toBe("eng/frontend");
  });

  it("has no object for '*' or invalid roles", () => {
    expect(() => roleToObjectName("*")).toThrow(/no ResourceRole/);
    expect(() => roleToObjectName("Eng")).toThrow();
    expect(() => objectNameToRole("a/b")).toThrow(/not a ResourceRole object name/);
  });

  it("validates Mesos-style hierarchical names", () => {
    expect(["*", "a", "eng/frontend", "x-1/y"].every(isRoleName)).toBe(true);
    expect(["", "/a", "a/", "a//b", "A", "a.b", "-a", "*/a", `${"a".repeat(64)}`].some(isRoleName)).toBe(
      false,
    );
  });
});
