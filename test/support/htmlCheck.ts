/**
 * A strict structural check of the demo's HTML, for want of a validator
 * package: what it checks is listed in `problems`. It is not a full HTML
 * parser; it reads the small, regular markup the demo writes (no comments,
 * scripts or unquoted attributes) and fails on anything else it cannot read.
 */

const VOID = new Set(["meta", "link", "input", "br", "hr", "img"])
/** Elements a `<p>` may not contain (they would close it implicitly). */
const BLOCK = new Set(["p", "div", "form", "ul", "ol", "dl", "table", "h1", "h2", "h3", "h4", "h5", "h6", "section"])
/** Elements whose contents are text only. */
const RAW = new Set(["style", "script", "title"])

interface Element {
  readonly name: string
  readonly attributes: ReadonlyMap<string, string>
}

/**
 * Every rule the page breaks: doctype first, `<html lang>`, `<meta charset>`,
 * a non-empty `<title>`, exactly one `<h1>`, every element closed in order,
 * no block element inside `<p>`, no form inside a form, unique ids, every
 * visible `<input>` labelled by a `<label for>` naming its id, every form with
 * method and action, every `<a>` with an `href`. Empty: none.
 */
export const problems = (html: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  if (!html.startsWith("<!doctype html>\n")) found.push("no doctype at the start")
  const stack: Array<string> = []
  const elements: Array<Element> = []
  const tag = /<(\/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*>|<!doctype html>/gi
  let last = 0
  let match: RegExpExecArray | null
  while ((match = tag.exec(html)) !== null) {
    const between = html.slice(last, match.index)
    if (between.includes("<")) found.push(`unreadable markup: ${between.slice(between.indexOf("<"), 40)}`)
    last = tag.lastIndex
    if (match[0].toLowerCase() === "<!doctype html>") continue
    const [, closing, rawName = "", rawAttributes = ""] = match
    const name = rawName.toLowerCase()
    if (closing === "/") {
      const open = stack.pop()
      if (open !== name) found.push(`</${name}> closes <${open ?? "nothing"}>`)
      continue
    }
    const attributes = new Map<string, string>()
    for (const [, key = "", value = ""] of rawAttributes.matchAll(/([a-z-]+)(?:="([^"]*)")?/gi)) {
      if (attributes.has(key)) found.push(`<${name}> repeats ${key}`)
      attributes.set(key, value)
    }
    elements.push({ name, attributes })
    if (stack.includes("p") && BLOCK.has(name)) found.push(`<${name}> inside <p>`)
    if (name === "form" && stack.includes("form")) found.push("<form> inside <form>")
    if (!VOID.has(name)) stack.push(name)
    if (RAW.has(name)) {
      const end = html.indexOf(`</${name}>`, tag.lastIndex)
      if (end < 0) found.push(`<${name}> never closed`)
      else if (name === "title" && html.slice(tag.lastIndex, end).trim() === "") found.push("empty <title>")
      tag.lastIndex = end < 0 ? html.length : end
      last = tag.lastIndex
    }
  }
  if (stack.length > 0) found.push(`never closed: ${stack.join(", ")}`)
  const all = (name: string) => elements.filter((e) => e.name === name)
  if (all("html")[0]?.attributes.get("lang") === undefined) found.push("<html> without lang")
  if (!all("meta").some((e) => e.attributes.get("charset")?.toLowerCase() === "utf-8")) found.push("no <meta charset>")
  if (all("title").length !== 1) found.push("not exactly one <title>")
  if (all("h1").length !== 1) found.push(`${all("h1").length} <h1> elements`)
  const ids = elements.flatMap((e) => e.attributes.has("id") ? [e.attributes.get("id")] : [])
  for (const id of new Set(ids)) if (ids.filter((i) => i === id).length > 1) found.push(`id "${id}" repeated`)
  const labelled = new Set(all("label").map((e) => e.attributes.get("for")))
  for (const input of all("input")) {
    if (input.attributes.get("type") === "hidden") continue
    const id = input.attributes.get("id")
    if (id === undefined || !labelled.has(id)) {
      found.push(`<input name="${input.attributes.get("name")}"> without a label`)
    }
  }
  for (const form of all("form")) {
    if (!form.attributes.has("method") || !form.attributes.has("action")) found.push("<form> without method or action")
  }
  for (const a of all("a")) if (!a.attributes.has("href")) found.push("<a> without href")
  return found
}
