import { describe, expect, it } from "vitest";
import { DnsSubdomainSchema, isRoleName, objectNameToRole, roleToObjectName } from "./names.ts";

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

describe("subdomains as Kubernetes validates them", () => {
  const cases: [string, boolean][] = [
    ["ip-10-100-201-17.ap-southeast-2.compute.internal", true],
    [`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`, true],
    // No limit per dot-separated part: a Pod named <63-char framework>-<63-char task id>.
    [`${"f".repeat(63)}-${"t".repeat(63)}`, true],
    ["x".repeat(253), true],
    ["x".repeat(254), false],
    ["a..b", false],
    ["a.-b", false],
    ["A.b", false],
    ["a.", false],
  ];
  it.each(cases)("%s → %s", (name, ok) => {
    expect(DnsSubdomainSchema.safeParse(name).success).toBe(ok);
  });

  it("an object name whose part is longer than a role component is no role", () => {
    expect(() => objectNameToRole("a".repeat(64))).toThrow(/not a ResourceRole object name/);
    expect(objectNameToRole("a".repeat(63))).toBe("a".repeat(63));
  });
});
