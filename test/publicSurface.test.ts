/**
 * What users can import: the package's `exports` name every public module
 * and nothing from `src/internal/`, and Node refuses the rest.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"

const root = new URL("../", import.meta.url)
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
  readonly name: string
  readonly exports: Record<string, unknown>
}
const publicModules = readdirSync(new URL("src/", root))
  .filter((file) => file.endsWith(".ts") && file !== "index.ts")
  .map((file) => file.slice(0, -".ts".length))

/** How Node resolves `specifier` from inside this package (a self-reference, as a consumer would). */
const resolve = (specifier: string): string => {
  try {
    return execFileSync(process.execPath, [
      "--input-type=module",
      "-e",
      `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`
    ], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    }).trim()
  } catch (error) {
    return String((error as { stderr?: unknown }).stderr)
  }
}

describe("package exports", () => {
  it("name the index, every public module and package.json, nothing else", () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(
      [".", "./package.json", ...publicModules.map((name) => `./${name}`)].sort()
    )
  })

  it.each(publicModules)("%s resolves to its built module", (name) => {
    expect(resolve(`${pkg.name}/${name}`)).toMatch(new RegExp(`/dist/${name}\\.js$`))
  })

  it.each(["internal/requestSession", "internal/requestSession.js", "internal/commit", "dist/internal/commit.js"])(
    "%s is not importable",
    (path) => {
      expect(resolve(`${pkg.name}/${path}`)).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")
    }
  )
})
