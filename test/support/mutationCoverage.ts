/**
 * Mutation runs only (vitest.mutation.config.ts): Stryker's per-test coverage
 * counts code run by a file's `beforeAll`/`afterAll` hooks (a `layer(...)`
 * building its Layer, or tearing it down) as covered by no test, so a mutant
 * there is run only against other files' tests, and a store built once per
 * suite looks unpinned by that suite. This hook credits what a file's hooks
 * reached to every test of the file, which then runs against those mutants.
 *
 * It reads and writes Stryker's coverage object (`__stryker__.mutantCoverage`,
 * the `static`/`perTest` maps its vitest runner reports after the dry run),
 * and does nothing outside Stryker's dry run, nor with `MUTATION_HOOK_CREDIT=off`.
 */
import { afterAll, beforeAll, inject } from "vitest"

type Hits = Record<string, number>
interface Coverage {
  readonly static: Hits
  readonly perTest: Record<string, Hits>
}
interface Task {
  readonly type: string
  readonly name: string
  readonly suite?: Task | undefined
  readonly file?: { readonly filepath: string } | undefined
  readonly tasks?: ReadonlyArray<Task>
}

const mode = (inject as (key: string) => unknown)("mode")
const namespace = (inject as (key: string) => unknown)("globalNamespace")

/** Stryker's raw test id (its vitest runner's `toRawTestId`): the file path, `#`, the suite names and the test's. */
const testId = (test: Task): string => {
  const names = [test.name]
  for (let suite = test.suite; suite !== undefined; suite = suite.suite) names.unshift(suite.name)
  return `${test.file?.filepath ?? "unknown.js"}#${names.join(" ").trim()}`
}

const testsOf = (task: Task): ReadonlyArray<Task> => task.type === "test" ? [task] : (task.tasks ?? []).flatMap(testsOf)

// `MUTATION_HOOK_CREDIT=off` measures without the credit: much faster where hooks start Clusters and
// Sentinels, but a mutant in a Layer's construction then shows as surviving until checked by hand.
if (mode === "dry-run" && typeof namespace === "string" && process.env["MUTATION_HOOK_CREDIT"] !== "off") {
  const coverage = (): Coverage | undefined =>
    ((globalThis as Record<string, unknown>)[namespace] as { mutantCoverage?: Coverage } | undefined)?.mutantCoverage
  let before: Hits = {}
  beforeAll(() => {
    before = { ...coverage()?.static }
  })
  afterAll((file) => {
    const current = coverage()
    if (current === undefined) return
    const reached = Object.entries(current.static).filter(([id, hits]) => hits > (before[id] ?? 0))
    for (const test of testsOf(file as unknown as Task)) {
      const hits = (current.perTest[testId(test)] ??= {})
      for (const [id] of reached) hits[id] = (hits[id] ?? 0) + 1
    }
    // what only hooks reached is now covered by tests, no longer static (module-level code stays static)
    for (const [id] of reached) {
      const left = before[id] ?? 0
      if (left === 0) delete current.static[id]
      else current.static[id] = left
    }
  })
}
