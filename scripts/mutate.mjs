// `npm run mutate [group ...]`: Stryker over src/, one group at a time, each group's modules against
// the tests that specify them (stryker.<group>.config.mjs), then one report and one score over
// every file the groups mutated. The groups split src/ without overlap. `--report` skips the runs and
// merges the groups' last reports.
import { calculateMetrics } from "mutation-testing-metrics"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"

const groups = ["core", "store", "session", "api"]
const reportOnly = process.argv.includes("--report")
const asked = process.argv.slice(2).filter((arg) => arg !== "--report")
const unknown = asked.filter((group) => !groups.includes(group))
if (unknown.length > 0) {
  console.error(`unknown group ${unknown.join(", ")}: the groups are ${groups.join(", ")}`)
  process.exit(2)
}
const chosen = asked.length > 0 ? asked : groups

for (const group of reportOnly ? [] : chosen) {
  console.log(`\n=== mutation group "${group}" (stryker.${group}.config.mjs)\n`)
  const run = spawnSync("npx", ["stryker", "run", `stryker.${group}.config.mjs`], { stdio: "inherit" })
  if (run.status !== 0) process.exit(run.status ?? 1)
}

const reportOf = (group) => `reports/mutation-${group}/mutation.json`
const missing = chosen.filter((group) => !existsSync(reportOf(group)))
if (missing.length > 0) {
  console.log(`\nno report yet for ${missing.join(", ")}: run \`npm run mutate ${missing.join(" ")}\``)
}
const merged = chosen.filter((group) => !missing.includes(group))
if (merged.length === 0) process.exit(1)
const reports = merged.map((group) => JSON.parse(readFileSync(reportOf(group), "utf8")))
const report = { ...reports[0], files: Object.assign({}, ...reports.map((one) => one.files)) }
const metrics = calculateMetrics(report.files)

const rows = []
const walk = (result) => {
  if (result.file) rows.push([result.file.name, result.metrics])
  for (const child of result.childResults) walk(child)
}
walk(metrics)
const percent = (score) => Number.isNaN(score) ? "n/a" : score.toFixed(1)
const columns = (name, m) =>
  [
    name.padEnd(40),
    percent(m.mutationScore).padStart(6),
    String(m.killed).padStart(7),
    String(m.timeout).padStart(8),
    String(m.survived).padStart(9),
    String(m.noCoverage).padStart(8),
    String(m.ignored).padStart(8)
  ].join(" ")
console.log(
  `\n=== mutation score over ${merged.length === groups.length ? "src/" : `the groups ${merged.join(", ")}`}\n`
)
console.log(
  ["file".padEnd(40), " score", " killed", " timeout", " survived", " no cov", " ignored"].join(" ")
)
for (const [name, m] of rows.sort(([a], [b]) => a.localeCompare(b))) console.log(columns(name, m))
console.log(columns("all", metrics.metrics))

mkdirSync("reports/mutation", { recursive: true })
writeFileSync("reports/mutation/mutation.json", JSON.stringify(report))
// the page Stryker's own html reporter writes: its report viewer with the merged report inlined
const viewer = readFileSync(
  createRequire(import.meta.url).resolve("mutation-testing-elements/dist/mutation-test-elements.js"),
  "utf8"
)
writeFileSync(
  "reports/mutation/mutation.html",
  `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>effect-session-redis: mutation report</title><script>${viewer}</script></head>
<body>
<mutation-test-report-app title-postfix="effect-session-redis"></mutation-test-report-app>
<script>
document.querySelector("mutation-test-report-app").report = ${JSON.stringify(report).replace(/</g, "\\u003c")}
</script>
</body>
</html>
`
)
console.log("\nreports/mutation/mutation.html, reports/mutation/mutation.json")
