/**
 * Type-checks the TypeScript code blocks of the documentation.
 *
 * Every ```ts / ```typescript block of a Markdown file is compiled by `tsc`,
 * with the package's own entry points (`effect-session-redis`,
 * `effect-session-redis/Session`, ...) resolved to `src/` through `paths`
 * built from package.json `exports`, so a block can import exactly what a
 * user can. The info string after the language takes one word:
 *
 * - none: the block is a module of its own;
 * - `continues`: the block is appended to the module of the previous checked
 *   block of the same file (a page whose examples build on one another);
 * - `excerpt=<path>`: the block is a verbatim excerpt of a file of the
 *   project (itself type-checked by `tsc -p .`), such as docs/examples/otel.ts;
 *   the test checks that the file holds it;
 * - `fragment`: the block is not checked. Exemptions are listed by the test,
 *   so they stay few and deliberate.
 *
 * All modules are written to one temporary directory inside the repository
 * (so `node_modules` resolves) and checked by a single `tsc` run; each
 * diagnostic is mapped back to the Markdown file, the block's number in that
 * file and the line in the file.
 */
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import ts from "typescript"

export type BlockMode = "module" | "continues" | "fragment" | "excerpt"

export interface Block {
  /** The Markdown file, relative to the repository root. */
  readonly file: string
  /** 1-based number of the block among the file's TypeScript blocks. */
  readonly index: number
  /** 1-based line in the Markdown file of the block's first code line. */
  readonly line: number
  readonly mode: BlockMode
  /** For an excerpt: the file, relative to the repository root, that holds the block's code verbatim. */
  readonly source?: string
  readonly code: string
}

export class DocBlockError extends Error {}

const typescriptLanguages = new Set(["ts", "typescript"])
const modes = new Set<string>(["continues", "fragment"])

/** The TypeScript blocks of one Markdown text. Other languages are ignored. */
export const extractBlocks = (file: string, text: string): ReadonlyArray<Block> => {
  const lines = text.split("\n")
  const blocks: Array<Block> = []
  let index = 0
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3}|\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/.exec(lines[i]!)
    if (open === null) continue
    const [, indent = "", fence = "", language = "", rest = ""] = open
    const close = new RegExp(`^\\s*${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`)
    let end = i + 1
    while (end < lines.length && !close.test(lines[end]!)) end++
    if (end === lines.length) throw new DocBlockError(`${file}:${i + 1}: code fence never closed`)
    if (typescriptLanguages.has(language.toLowerCase())) {
      index++
      const words = rest.split(/\s+/).filter((word) => word.length > 0)
      const excerpt = /^excerpt=(\S+)$/.exec(words[0] ?? "")
      if (words.length > 1 || (words.length === 1 && excerpt === null && !modes.has(words[0]!))) {
        throw new DocBlockError(
          `${file}:${i + 1} (block ${index}): unknown info string "${rest}"; ` +
            "after the language, use nothing, \"continues\", \"excerpt=<path>\" or \"fragment\""
        )
      }
      const code = lines.slice(i + 1, end).map((line) => line.startsWith(indent) ? line.slice(indent.length) : line)
      const at = { file, index, line: i + 2, code: code.join("\n") }
      blocks.push(
        excerpt !== null
          ? { ...at, mode: "excerpt", source: excerpt[1]! }
          : { ...at, mode: (words[0] as BlockMode | undefined) ?? "module" }
      )
    }
    i = end
  }
  return blocks
}

/** Blocks compiled together as one module, in order. */
export interface DocModule {
  readonly name: string
  readonly blocks: ReadonlyArray<Block>
}

/** Groups a file's checked blocks into modules: each `continues` block joins the module before it. */
export const toModules = (blocks: ReadonlyArray<Block>): ReadonlyArray<DocModule> => {
  const modules: Array<{ name: string; blocks: Array<Block> }> = []
  let current: { name: string; blocks: Array<Block> } | undefined
  let currentFile: string | undefined
  for (const block of blocks) {
    if (block.file !== currentFile) {
      current = undefined
      currentFile = block.file
    }
    if (block.mode === "fragment" || block.mode === "excerpt") continue
    if (block.mode === "continues") {
      if (current === undefined) {
        throw new DocBlockError(
          `${block.file}:${
            block.line - 1
          } (block ${block.index}): "continues" but no checked block before it in this file`
        )
      }
      current.blocks.push(block)
      continue
    }
    const name = `${block.file.replace(/[^A-Za-z0-9]+/g, "_")}__block${block.index}.ts`
    current = { name, blocks: [block] }
    modules.push(current)
  }
  return modules
}

export interface Diagnostic {
  readonly file: string
  readonly block: number
  readonly line: number
  readonly column: number
  readonly message: string
}

export const formatDiagnostic = (d: Diagnostic): string =>
  `${d.file}:${d.line}:${d.column} (block ${d.block}): ${d.message}`

/** The entry points of package.json `exports`, as tsconfig `paths` to the sources. */
const publicPaths = (root: string, from: string): Record<string, Array<string>> => {
  const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8")) as {
    name: string
    exports: Record<string, unknown>
  }
  const paths: Record<string, Array<string>> = {}
  for (const entry of Object.keys(pkg.exports)) {
    if (entry.endsWith(".json")) continue
    const module = entry === "." ? "index" : entry.slice(2)
    const specifier = entry === "." ? pkg.name : `${pkg.name}/${module}`
    paths[specifier] = [Path.relative(from, Path.join(root, "src", `${module}.ts`)).split(Path.sep).join("/")]
  }
  return paths
}

/**
 * Writes the modules to a temporary directory under `root`, runs one `tsc`
 * over them, and returns the diagnostics mapped to the Markdown files.
 */
export const typeCheck = async (
  root: string,
  modules: ReadonlyArray<DocModule>
): Promise<ReadonlyArray<Diagnostic>> => {
  const dir = Fs.mkdtempSync(Path.join(root, ".docs-check-"))
  try {
    const origins = new Map<string, Array<{ block: Block; line: number } | undefined>>()
    for (const module of modules) {
      const lines: Array<string> = []
      const origin: Array<{ block: Block; line: number } | undefined> = []
      for (const block of module.blocks) {
        block.code.split("\n").forEach((line, n) => {
          lines.push(line)
          origin.push({ block, line: block.line + n })
        })
        lines.push("")
        origin.push(undefined)
      }
      // a module even without imports, so blocks never share a global scope
      lines.push("export {}")
      Fs.writeFileSync(Path.join(dir, module.name), lines.join("\n"))
      origins.set(module.name, origin)
    }
    const tsconfig = {
      extends: Path.relative(dir, Path.join(root, "tsconfig.json")).split(Path.sep).join("/"),
      compilerOptions: {
        noEmit: true,
        // examples declare what they show, used or not
        noUnusedLocals: false,
        noUnusedParameters: false,
        paths: publicPaths(root, dir)
      },
      files: modules.map((module) => module.name)
    }
    Fs.writeFileSync(Path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
    // asynchronous: tsc takes a while, and the test worker must stay responsive meanwhile
    const { failed, output } = await new Promise<{ failed: Error | null; output: string }>((resolve) => {
      execFile(
        process.execPath,
        [tsc, "-p", Path.join(dir, "tsconfig.json"), "--pretty", "false"],
        { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ failed: error, output: `${stdout}${stderr}` })
      )
    })
    const diagnostics = parseTscOutput(output, root, dir, origins)
    // tsc failing without a diagnostic (not started, killed) must not pass for a clean check
    return failed !== null && diagnostics.length === 0
      ? [{ file: "tsc", block: 0, line: 0, column: 0, message: failed.message }]
      : diagnostics
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

const parseTscOutput = (
  output: string,
  root: string,
  dir: string,
  origins: ReadonlyMap<string, ReadonlyArray<{ block: Block; line: number } | undefined>>
): ReadonlyArray<Diagnostic> => {
  const diagnostics: Array<Diagnostic> = []
  const fallback = (message: string): Diagnostic => ({ file: "tsc", block: 0, line: 0, column: 0, message })
  for (const raw of output.split("\n")) {
    if (raw.trim() === "") continue
    if (/^\s/.test(raw) && diagnostics.length > 0) {
      // a continuation line of the previous message
      const last = diagnostics.pop()!
      diagnostics.push({ ...last, message: `${last.message}\n  ${raw.trim()}` })
      continue
    }
    const match = /^(.*?)\((\d+),(\d+)\): (error|warning) (TS\d+: .*)$/.exec(raw)
    if (match === null) {
      diagnostics.push(fallback(raw))
      continue
    }
    const [, path = "", lineText = "0", columnText = "0", , message = ""] = match
    const name = Path.relative(dir, Path.resolve(root, path))
    const origin = origins.get(name)?.[Number(lineText) - 1]
    if (origin === undefined) {
      diagnostics.push(fallback(raw))
      continue
    }
    diagnostics.push({
      file: origin.block.file,
      block: origin.block.index,
      line: origin.line,
      column: Number(columnText),
      message
    })
  }
  return diagnostics
}

/** Is `file` (relative to `root`) among the files `tsc -p .` checks? */
const typeCheckedByProject = (root: string, file: string): boolean => {
  const path = Path.join(root, "tsconfig.json")
  const { config } = ts.readConfigFile(path, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root)
  return parsed.fileNames.map((name) => Path.resolve(name)).includes(Path.resolve(root, file))
}

/** Excerpts whose source file does not hold their code verbatim, as messages. */
export const staleExcerpts = (root: string, blocks: ReadonlyArray<Block>): ReadonlyArray<string> =>
  blocks.flatMap((block) => {
    if (block.mode !== "excerpt" || block.source === undefined) return []
    const path = Path.join(root, block.source)
    const at = `${block.file}:${block.line - 1} (block ${block.index})`
    if (!Fs.existsSync(path)) return [`${at}: excerpt of ${block.source}, which does not exist`]
    if (!typeCheckedByProject(root, block.source)) {
      return [`${at}: excerpt of ${block.source}, which \`tsc -p .\` does not check (tsconfig.json "include")`]
    }
    return Fs.readFileSync(path, "utf8").includes(block.code)
      ? []
      : [`${at}: not a verbatim excerpt of ${block.source} any more; copy the current code`]
  })

/** README.md and every Markdown file under docs/, relative to `root`, sorted. */
export const documentationFiles = (root: string): ReadonlyArray<string> => {
  const found: Array<string> = ["README.md"]
  const walk = (relative: string) => {
    for (const entry of Fs.readdirSync(Path.join(root, relative), { withFileTypes: true })) {
      const path = `${relative}/${entry.name}`
      if (entry.isDirectory()) {
        if (path !== "docs/api") walk(path) // the generated API reference
      } else if (entry.name.endsWith(".md")) found.push(path)
    }
  }
  walk("docs")
  return found.sort()
}
