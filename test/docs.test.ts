/**
 * The documentation's code cannot rot: every TypeScript block of README.md
 * and docs/**\/*.md is type-checked against the sources, in one `tsc` run
 * (see test/support/docBlocks.ts for the info-string rules).
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Block, Diagnostic } from "./support/docBlocks.js"
import {
  DocBlockError,
  documentationFiles,
  extractBlocks,
  formatDiagnostic,
  staleExcerpts,
  toModules,
  typeCheck
} from "./support/docBlocks.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const files = documentationFiles(root)
const blocks = files.flatMap((file) =>
  extractBlocks(file, readFileSync(new URL(`../${file}`, import.meta.url), "utf8"))
)

/** A document with known mistakes, checked in the same tsc run: proves the checker reports them. */
const fixture = [
  "# A fixture", //                                                   1
  "", //                                                              2
  "```ts", //                                                         3
  "import { Schema } from \"effect\"", //                             4
  "import { Session } from \"effect-session-redis\"", //              5
  "const Visits = Session.key(\"n\", Schema.Number)", //              6
  "```", //                                                           7
  "", //                                                              8
  "```ts continues", //                                               9
  "const count: number = Visits", //                                  10: a type error, Visits in scope
  "```", //                                                           11
  "", //                                                              12
  "```typescript", //                                                 13
  "const again = Visits", //                                          14: a new module: not in scope
  "```", //                                                           15
  "", //                                                              16
  "```ts fragment", //                                                17
  "this is not TypeScript", //                                        18: exempt
  "```", //                                                           19
  "", //                                                              20
  "- a list item", //                                                 21
  "", //                                                              22
  "  ```ts", //                                                       23
  "  import * as Commit from \"effect-session-redis/internal/commit\"", // 24: not an entry point
  "  ```", //                                                         25
  "", //                                                              26
  "```js", //                                                         27
  "const notChecked = 1 +", //                                        28: not TypeScript
  "```", //                                                           29
  "", //                                                              30
  "```ts excerpt=test/support/commands.ts", //                        31
  "export const allCommands = (", //                                  32: verbatim in that file
  "```", //                                                           33
  "", //                                                              34
  "```ts excerpt=test/support/commands.ts", //                        35
  "export const noCommands = (", //                                   36: not in that file
  "```", //                                                           37
  "", //                                                              38
  "```ts excerpt=package.json", //                                    39
  "\"name\": \"effect-session-redis\"", //                            40: verbatim, but not TypeScript
  "```" //                                                            41
].join("\n")
const fixtureBlocks = extractBlocks("fixture.md", fixture)

let diagnostics: ReadonlyArray<Diagnostic> = []
beforeAll(async () => {
  diagnostics = await typeCheck(root, toModules([...blocks, ...fixtureBlocks]))
}, 600_000) // one tsc over the docs, the sources and Effect's types: about 15 s of CPU, longer beside other tests

const codes = (file: string) =>
  diagnostics.filter((d) => d.file === file).map((d) => ({
    block: d.block,
    line: d.line,
    code: /^TS\d+/.exec(d.message)?.[0]
  }))

describe("the documentation's code", () => {
  it("README.md and docs/ hold TypeScript blocks to check", () => {
    expect(files).toContain("README.md")
    expect(files).toContain("docs/getting-started.md")
    expect(blocks.filter((block) => block.mode !== "fragment").length).toBeGreaterThan(20)
  })

  it("every TypeScript block type-checks", () => {
    const failures = diagnostics.filter((d) => d.file !== "fixture.md").map(formatDiagnostic)
    const hint = "Each block is a module of its own: give it its imports, or mark it " +
      "`continues`, `excerpt=<path>` or `fragment` (CONTRIBUTING.md, \"Code in the documentation\")"
    expect(failures, `\n${failures.join("\n")}\n${hint}\n`).toEqual([])
  })

  it("the blocks exempt from checking are these few", () => {
    const exempt = blocks.filter((block) => block.mode === "fragment").map((b) => `${b.file} block ${b.index}`)
    expect(exempt).toEqual([])
  })

  it("every excerpt is still verbatim in its source file", () => {
    expect(blocks.filter((block) => block.mode === "excerpt").length).toBeGreaterThan(0)
    expect(staleExcerpts(root, blocks)).toEqual([])
  })
})

describe("the checker", () => {
  it("reports each mistake with the file, the block's number and the line", () => {
    expect(codes("fixture.md")).toEqual([
      { block: 2, line: 10, code: "TS2322" }, // the continued block sees Visits, of the wrong type
      { block: 3, line: 14, code: "TS2304" }, // a new block is a new module
      { block: 5, line: 24, code: "TS2307" } // internal modules are not importable
    ])
    expect(formatDiagnostic(diagnostics.find((d) => d.file === "fixture.md")!)).toMatch(
      /^fixture\.md:10:7 \(block 2\): TS2322: Type .* is not assignable to type 'number'/
    )
  })

  it("numbers a file's TypeScript blocks, strips a list's indent and skips other languages", () => {
    expect(fixtureBlocks.map((b: Block) => [b.index, b.line, b.mode])).toEqual([
      [1, 4, "module"],
      [2, 10, "continues"],
      [3, 14, "module"],
      [4, 18, "fragment"],
      [5, 24, "module"],
      [6, 32, "excerpt"],
      [7, 36, "excerpt"],
      [8, 40, "excerpt"]
    ])
    expect(fixtureBlocks[4]!.code).toBe("import * as Commit from \"effect-session-redis/internal/commit\"")
  })

  it("reports an excerpt its source file no longer holds, or of a file tsc does not check", () => {
    expect(staleExcerpts(root, fixtureBlocks)).toEqual([
      "fixture.md:35 (block 7): not a verbatim excerpt of test/support/commands.ts any more; copy the current code",
      "fixture.md:39 (block 8): excerpt of package.json, which `tsc -p .` does not check (tsconfig.json \"include\")"
    ])
  })

  it.each([
    ["an unknown word after the language", "```ts nocheck\nx\n```", /fixture\.md:1 \(block 1\): unknown info string/],
    ["an unclosed fence", "```ts\nx\n", /fixture\.md:1: code fence never closed/],
    ["\"continues\" first in a file", "```ts continues\nx\n```", /fixture\.md:1 \(block 1\): "continues" but no/]
  ])("refuses %s", (_name, text, message) => {
    expect(() => toModules(extractBlocks("fixture.md", text))).toThrow(DocBlockError)
    expect(() => toModules(extractBlocks("fixture.md", text))).toThrow(message)
  })
})
