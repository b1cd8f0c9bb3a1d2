/**
 * The demo's HTML: plain templates and one stylesheet, no front-end build.
 * Every value from the session, the request or the store goes through
 * `escapeHtml`.
 */

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c] ?? c)

/** Where the request's own facts go: filled in after the session middleware has committed (see `commandCount.ts`). */
export const responseFactsMarker = "<!--response-facts-->"

const style = `
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
  h1 { font-size: 1.6rem; margin-bottom: .25rem; }
  h2 { font-size: 1.15rem; margin-top: 1.75rem; border-bottom: 1px solid #ddd; }
  .box { border: 1px solid; border-radius: .3rem; padding: .5rem 1rem; margin: 1rem 0; list-style: none; }
  .info { background: #eef8ee; border-color: #8b8; color: #174a17; }
  .error { background: #fdeeee; border-color: #d88; color: #7a1010; }
  form.inline { display: inline; }
  form.login { display: flex; gap: .5rem; align-items: center; margin: .5rem 0; }
  button { font: inherit; padding: .2rem .8rem; cursor: pointer; }
  input { font: inherit; padding: .2rem .4rem; }
  code { background: #f4f4f4; padding: 0 .2em; border-radius: .2em; }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
  dl.facts dt { font-weight: 600; }
  dl.facts dd { margin: 0; }
  .note { color: #555; font-size: .9rem; }
  ul.api { columns: 2; padding-left: 1.2rem; }
`

const document = (title: string, body: string) =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
${body}
</body>
</html>
`

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().replace(".000Z", "Z")

/** "in 20 min" / "3 s ago" */
const relative = (epochSeconds: number, now: number) => {
  const delta = epochSeconds - now
  const abs = Math.abs(delta)
  if (abs < 2) return "now"
  const text = abs < 120 ? `${abs} s` : abs < 7200 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`
  return delta > 0 ? `in ${text}` : `${text} ago`
}

const when = (epochSeconds: number, now: number) =>
  `<time datetime="${iso(epochSeconds)}">${iso(epochSeconds)}</time> (${relative(epochSeconds, now)})`

export interface Flash {
  readonly kind: "info" | "error"
  readonly text: string
}

export interface SessionFacts {
  readonly isNew: boolean
  /** The `UserSessions` handle: a hash of the storage key, never the id. */
  readonly handle: string | undefined
  readonly created: number
  readonly timeout: number | undefined
  readonly idleDeadline: number | undefined
  readonly absoluteDeadline: number | undefined
}

export interface View {
  readonly now: number
  readonly store: { readonly kind: string; readonly description: string }
  readonly user: string | undefined
  readonly n: number
  readonly flashes: ReadonlyArray<Flash>
  readonly csrf: string
  readonly session: SessionFacts
  /** The session cookie as the policy writes it, value elided. */
  readonly cookiePolicy: string
  readonly sessions: ReadonlyArray<{ readonly label: string; readonly created: number; readonly current: boolean }>
  readonly userIndex: boolean
}

const csrfField = (token: string) => `<input type="hidden" name="csrf_token" value="${escapeHtml(token)}">`

const flashes = (list: ReadonlyArray<Flash>) =>
  (["error", "info"] as const).map((kind) => {
    const items = list.filter((f) => f.kind === kind)
    return items.length === 0
      ? ""
      : `<ul class="box ${kind}" role="${kind === "error" ? "alert" : "status"}">${
        items.map((f) => `<li>${escapeHtml(f.text)}</li>`).join("")
      }</ul>\n`
  }).join("")

const account = (view: View) => {
  const csrf = csrfField(view.csrf)
  if (view.user === undefined) {
    return `<p>You are not logged in.</p>
<form class="login" method="post" action="/login">${csrf}
  <label for="user">User name</label>
  <input id="user" name="user" required maxlength="64" autocomplete="username">
  <button type="submit">Log in</button>
</form>`
  }
  const sessions = !view.userIndex ? "" : `<h2>Your sessions</h2>
<ul class="sessions">${
    view.sessions.map((s) =>
      `<li>${escapeHtml(s.label)}, since ${iso(s.created)}${s.current ? " <strong>(this one)</strong>" : ""}</li>`
    ).join("")
  }</ul>
<form class="inline" method="post" action="/sessions/revoke-others">${csrf}<button type="submit">Sign out the others</button></form>
<span class="note">(as JSON: <a href="/api/sessions">/api/sessions</a>)</span>`
  return `<p>Logged in as <strong>${escapeHtml(view.user)}</strong>.</p>
<form class="inline" method="post" action="/logout">${csrf}<button type="submit">Log out</button></form>
${sessions}`
}

const sessionFacts = (view: View) => {
  const s = view.session
  return `<h2>This session</h2>
<dl class="facts">
  <dt>Store</dt><dd>${escapeHtml(view.store.description)}</dd>
  <dt>Session</dt><dd>${
    s.isNew
      ? "new: this request brought no valid session cookie; nothing is stored until the session holds data"
      : "existing: loaded from the store"
  }</dd>
  <dt>Handle</dt><dd>${
    s.handle === undefined ? "none yet (not stored)" : `<code>${escapeHtml(s.handle)}</code> (a hash, never the id)`
  }</dd>
  <dt>Created</dt><dd>${when(s.created, view.now)}</dd>
  <dt>Idle deadline</dt><dd>${
    s.idleDeadline === undefined
      ? "none (no idle timeout)"
      : `${when(s.idleDeadline, view.now)}, ${s.timeout ?? "?"} s after the last activity`
  }</dd>
  <dt>Absolute deadline</dt><dd>${
    s.absoluteDeadline === undefined ? "none (no maximum lifetime)" : when(s.absoluteDeadline, view.now)
  }</dd>
  <dt>Session cookie</dt><dd><code>${escapeHtml(view.cookiePolicy)}</code></dd>
</dl>`
}

const apiLinks = [
  "/api/read",
  "/api/incr",
  "/api/whoami",
  "/api/login?user=alice",
  "/api/logout",
  "/api/flash?msg=hello",
  "/api/flashes",
  "/api/csrf",
  "/api/sessions",
  "/api/noop"
]

/** The home page. */
export const home = (view: View) =>
  document(
    "effect-session-redis demo",
    `<h1>effect-session-redis demo</h1>
<p class="note">Server-side sessions for Effect's HTTP stack, stored in ${
      view.store.kind === "memory" ? "memory (set REDIS_URL for Redis)" : "Redis"
    }.</p>
${flashes(view.flashes)}${account(view)}
<h2>Counter</h2>
<p>Counter: <strong>${view.n}</strong></p>
<form class="inline" method="post" action="/incr">${csrfField(view.csrf)}<button type="submit">+1</button></form>
<span class="note">Kept in the session: logging in keeps it.</span>
${sessionFacts(view)}
${responseFactsMarker}
<h2>How the forms are protected</h2>
<p>Each form carries a token that is also in a cookie (<code>HttpOnly</code>, <code>SameSite=Strict</code>): a
signed random value, so looking at this page stores nothing. A post is accepted when the two are equal and the
signature is the server's; another site can make your browser send the cookie but cannot read it.</p>
<h2>JSON API</h2>
<p class="note">Plain GET routes for trying things and for the benchmarks: they are not CSRF-protected, so some
of them change state on a link another site could show. A real application changes state on POST only.</p>
<ul class="api">${
      apiLinks.map((path) => `<li><a href="${escapeHtml(path)}">${escapeHtml(path)}</a></li>`).join("")
    }</ul>`
  )

/** The request's own facts, known once the session middleware has committed. */
export const responseFacts = (
  commands: ReadonlyArray<readonly [string, number]>,
  setCookies: ReadonlyArray<string>
) =>
  `<h2>This request</h2>
<dl class="facts">
  <dt>Store commands</dt><dd>${
    commands.length === 0
      ? "none"
      : commands.map(([name, times]) => `<code>${escapeHtml(name)}</code> ×${times}`).join(", ")
  }<br><span class="note">Calls on the store, including the session's write after this page was rendered.
The form you posted before this page was a request of its own (a POST, then a redirect here).</span></dd>
  <dt>Cookies set</dt><dd>${
    setCookies.length === 0
      ? "none: your browser keeps what it has"
      : `<ul>${setCookies.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join("")}</ul>`
  }</dd>
</dl>`

/** The page for a form whose CSRF token is missing or wrong. */
export const forbidden = () =>
  document(
    "Form refused: effect-session-redis demo",
    `<h1>Form refused</h1>
<p class="box error" role="alert">The form's security token is missing or does not match this browser's cookie.
This happens when a page was open for long (you logged in or out in another tab), or when another site posts
here.</p>
<p><a href="/">Back to the demo page</a>: it gives the form a fresh token.</p>`
  )
