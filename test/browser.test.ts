/**
 * The demo page in a real browser: headless Chromium (Debian's `chromium`)
 * driven by playwright-core, against the demo app served in-process on a free
 * port, once on the in-memory store and once on a private redis-server.
 * Each page state is saved as a screenshot; the folder is printed at the end.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { existsSync, mkdirSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeApp, SessionsLive } from "../docs/examples/app.js"
import { type RedisServerHarness, startRedisServer } from "./support/redisServer.js"

const CHROMIUM = "/usr/bin/chromium"
const screenshots = resolve(dirname(fileURLToPath(import.meta.url)), "../test-results/screenshots")

/** The demo app on 127.0.0.1 and a free port, configured only by `env`. */
const startDemo = async (env: ReadonlyArray<readonly [string, string]>) => {
  const runtime = ManagedRuntime.make(
    HttpServer.serve(makeApp({ sessions: true })).pipe(
      Layer.provide(SessionsLive),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(env))))
    )
  )
  const server = await runtime.runPromise(HttpServer.HttpServer)
  if (server.address._tag !== "TcpAddress") throw new Error("not a TCP server")
  return { url: `http://127.0.0.1:${server.address.port}`, close: () => runtime.dispose() }
}

let browser: Browser

/** The one browser function the tests call outside the page's elements (the project compiles without the DOM lib). */
interface Styles {
  readonly getComputedStyle: (element: unknown) => { readonly backgroundColor: string }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install it: apt-get install -y chromium`)
  }
  rmSync(screenshots, { recursive: true, force: true })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
})

afterAll(async () => {
  await browser?.close()
  console.log(`browser test screenshots: ${screenshots}`)
})

describe.each(["memory", "redis"] as const)("the demo page in Chromium, %s store", (store) => {
  let demo: { readonly url: string; readonly close: () => Promise<void> }
  let redis: RedisServerHarness | undefined
  const contexts: Array<BrowserContext> = []

  beforeAll(async () => {
    redis = store === "redis" ? await startRedisServer() : undefined
    demo = await startDemo(redis === undefined ? [] : [["REDIS_URL", redis.url]])
    mkdirSync(join(screenshots, store), { recursive: true })
  })

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()))
    await demo?.close()
    await redis?.stop()
  })

  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 1000 } })
    // generous on a loaded machine; each step takes milliseconds otherwise
    context.setDefaultTimeout(20_000)
    contexts.push(context)
    return { context, page: await context.newPage() }
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(screenshots, store, `${name}.png`), fullPage: true })

  const logIn = async (page: Page, user: string) => {
    await page.getByLabel("User name").fill(user)
    await page.getByRole("button", { name: "Log in" }).click()
    await page.getByText(`Logged in as ${user}.`).waitFor()
  }

  const counter = async (
    page: Page
  ) => (await page.locator("p", { hasText: "Counter:" }).locator("strong").textContent())

  it("first visit: no session cookie and no key, only the HttpOnly SameSite=Strict CSRF cookie", async () => {
    const { context, page } = await newPage()
    const keysBefore = await redis?.keys()
    const response = await page.goto(demo.url)
    expect(response?.status()).toBe(200)
    expect(response?.headers()["cache-control"]).toBe("no-store")
    await expect(page.locator("h1").textContent()).resolves.toBe("effect-session-redis demo")
    await page.getByText("You are not logged in.").waitFor()
    await page.reload()
    const cookies = await context.cookies()
    expect(cookies.map((c) => c.name)).toEqual(["csrf"])
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/", secure: false, expires: -1 })
    if (redis !== undefined) expect(await redis.keys()).toEqual(keysBefore)
    await expect(page.locator("dd", { hasText: "none yet (not stored)" }).count()).resolves.toBe(1)
    await shot(page, "01-first-visit")
  })

  it("counter, then log in with the form: the welcome shows once, the counter is kept, the cookie is as the page says", async () => {
    const { context, page } = await newPage()
    await page.goto(demo.url)
    await page.getByRole("button", { name: "+1" }).click()
    await expect(counter(page)).resolves.toBe("1")
    await shot(page, "02-counter-anonymous")
    await logIn(page, "alice")
    await expect(page.getByRole("status").textContent()).resolves.toBe("Welcome, alice!")
    await expect(counter(page)).resolves.toBe("1")
    await shot(page, "03-logged-in-welcome")
    const session = (await context.cookies()).find((c) => c.name === "session")
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/", secure: false, expires: -1 })
    await page.getByText("session=<signed id>; Path=/; HttpOnly; SameSite=Lax").waitFor()
    // the handle shown is not the cookie's value
    expect(await page.content()).not.toContain(session?.value)
    await page.getByRole("button", { name: "+1" }).click()
    await expect(counter(page)).resolves.toBe("2")
    await page.reload()
    await expect(page.getByRole("status").count()).resolves.toBe(0)
    await expect(counter(page)).resolves.toBe("2")
    await page.getByText("existing: loaded from the store").waitFor()
    await shot(page, "04-reloaded")
  })

  it("an empty user name shows an error in the red box", async () => {
    const { page } = await newPage()
    await page.goto(demo.url)
    await page.getByLabel("User name").fill("   ")
    await page.getByRole("button", { name: "Log in" }).click()
    const alert = page.getByRole("alert")
    await expect(alert.textContent()).resolves.toBe("Please enter a user name of 1 to 64 characters.")
    await expect(alert.evaluate((e) => (globalThis as unknown as Styles).getComputedStyle(e).backgroundColor)).resolves
      .toBe("rgb(253, 238, 238)")
    await shot(page, "05-error-flash")
  })

  it("log out, then Back: no stale session content and no second \"logged out\"", async () => {
    const { page } = await newPage()
    await page.goto(demo.url)
    await logIn(page, "bob")
    await page.getByRole("button", { name: "Log out" }).click()
    await expect(page.getByRole("status").textContent()).resolves.toBe("You are logged out.")
    await shot(page, "06-logged-out")
    await page.goBack()
    await page.getByText("You are not logged in.").waitFor()
    const text = await page.locator("body").textContent()
    expect(text).not.toContain("Logged in as")
    expect(text).not.toContain("You are logged out.")
    await shot(page, "07-back-after-logout")
  })

  it("a second browser context is isolated", async () => {
    const first = await newPage()
    await first.page.goto(demo.url)
    await logIn(first.page, "carol")
    const second = await newPage()
    await second.page.goto(demo.url)
    await second.page.getByText("You are not logged in.").waitFor()
    await expect(counter(second.page)).resolves.toBe("0")
    expect((await second.context.cookies()).map((c) => c.name)).toEqual(["csrf"])
    await shot(second.page, "08-second-context")
  })

  it("a forged or missing CSRF token gets the 403 page, whose link leads back", async () => {
    const { page } = await newPage()
    await page.goto(demo.url)
    await page.locator("form[action='/incr'] input[name=csrf_token]").evaluate((e) => {
      ;(e as unknown as { value: string }).value = "forged"
    })
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/incr")),
      page.getByRole("button", { name: "+1" }).click()
    ])
    expect(response.status()).toBe(403)
    await expect(page.locator("h1").textContent()).resolves.toBe("Form refused")
    await shot(page, "09-csrf-refused")
    await page.getByRole("link", { name: "Back to the demo page" }).click()
    await page.getByText("You are not logged in.").waitFor()
    await expect(counter(page)).resolves.toBe("0")
    // the token removed altogether
    await page.locator("form[action='/incr'] input[name=csrf_token]").evaluate((e) => e.remove())
    await page.getByRole("button", { name: "+1" }).click()
    await expect(page.locator("h1").textContent()).resolves.toBe("Form refused")
  })

  it("sign out the others, across two contexts", async () => {
    const laptop = await newPage()
    await laptop.page.goto(demo.url)
    await logIn(laptop.page, "dana")
    const phone = await newPage()
    await phone.page.goto(demo.url)
    await logIn(phone.page, "dana")
    await laptop.page.reload()
    await expect(laptop.page.locator("ul.sessions li").count()).resolves.toBe(2)
    await shot(laptop.page, "10-two-sessions")
    await laptop.page.getByRole("button", { name: "Sign out the others" }).click()
    await expect(laptop.page.getByRole("status").textContent()).resolves.toBe("Signed out 1 other session.")
    await expect(laptop.page.locator("ul.sessions li").count()).resolves.toBe(1)
    await shot(laptop.page, "11-others-signed-out")
    await phone.page.reload()
    await phone.page.getByText("You are not logged in.").waitFor()
    await shot(phone.page, "12-signed-out-phone")
  })
}, 90_000)
