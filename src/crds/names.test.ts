import { describe, expect, it } from "vitest";
import { isRoleName, objectNameToRole, roleToObjectName } from "./names.ts";
import { compareQuantities, isQuantity } from "./quantity.ts";

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

describe("quantities", () => {
  it("recognises Kubernetes quantities", () => {
    expect(["1", "500m", "1.5", ".5", "4Gi", "1e3", "1E-3", "+2", "10k", 3].every(isQuantity)).toBe(true);
    expect(["", "-1", "1K", "1.5.5", "Gi", "1 Gi", "1e", 0.5, -1, "1e999"].some(isQuantity)).toBe(false);
  });

  it("compares exactly across suffixes", () => {
    expect(compareQuantities("1", "1000m")).toBe(0);
    expect(compareQuantities("1Gi", "1073741824")).toBe(0);
    expect(compareQuantities("1G", "1Gi")).toBe(-1);
    expect(compareQuantities("1.5", "1499m")).toBe(1);
    expect(compareQuantities("1e3", "1k")).toBe(0);
    expect(compareQuantities(2, "2001m")).toBe(-1);
  });
});
