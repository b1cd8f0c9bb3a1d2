/**
 * Change tracking key by key: what a merge write sends. Plain data, no
 * store: each row is what a request did to a loaded session, and the keys
 * `changes` names for it.
 */
import { describe, expect, it } from "@effect/vitest"
import { SessionData } from "../src/internal/sessionData.js"
import * as Serializer from "../src/Serializer.js"

const loaded = (detectChanges = true) =>
  new SessionData({ a: 1, list: [1], obj: { n: 1 }, other: { n: 2 } }, { serializer: Serializer.json, detectChanges })

describe("SessionData changes", () => {
  it.each<{
    readonly request: string
    readonly act: (data: SessionData) => void
    readonly set: ReadonlyArray<string>
    readonly removed: ReadonlyArray<string>
    readonly whole?: boolean
  }>([
    { request: "nothing done", act: () => {}, set: [], removed: [] },
    { request: "a set", act: (d) => d.set("a", 2), set: ["a"], removed: [] },
    { request: "a new key", act: (d) => d.set("b", 1), set: ["b"], removed: [] },
    { request: "a delete", act: (d) => d.delete("a"), set: [], removed: ["a"] },
    { request: "a delete of a missing key changes nothing", act: (d) => d.delete("zzz"), set: [], removed: [] },
    { request: "set then deleted: removed", act: (d) => (d.set("b", 1), d.delete("b")), set: [], removed: ["b"] },
    { request: "deleted then set again: set", act: (d) => (d.delete("a"), d.set("a", 3)), set: ["a"], removed: [] },
    {
      request: "an object handed out and mutated: that key only",
      act: (d) => {
        ;(d.get("list") as Array<number>).push(2)
        d.get("other")
      },
      set: ["list"],
      removed: []
    },
    {
      request: "every value handed out (entries), one mutated",
      act: (d) => {
        const obj = d.entries().find(([key]) => key === "obj")?.[1] as { n: number }
        obj.n = 5
      },
      set: ["obj"],
      removed: []
    },
    { request: "an object handed out, unchanged", act: (d) => d.get("obj"), set: [], removed: [] },
    { request: "clear: the whole payload", act: (d) => d.clear(), set: [], removed: [], whole: true },
    { request: "markChanged: the whole payload", act: (d) => d.markChanged(), set: [], removed: [], whole: true },
    { request: "a flash message", act: (d) => d.flash("hi", undefined, true), set: ["_f_"], removed: [] }
  ])("$request", ({ act, removed, set, whole }) => {
    const data = loaded()
    act(data)
    const changes = data.changes()
    expect([...changes.set].sort()).toEqual([...set].sort())
    expect(changes.removed).toEqual(removed)
    expect(changes.whole).toBe(whole ?? false)
    expect(data.changed).toBe(set.length > 0 || removed.length > 0 || whole === true)
  })

  it("without detectChanges, an in-place mutation is not seen", () => {
    const data = loaded(false)
    ;(data.get("list") as Array<number>).push(2)
    expect(data.changed).toBe(false)
    expect(data.changes().set).toEqual([])
  })

  it("after a save, changes count from there, and objects handed out before are still watched", () => {
    const data = loaded()
    const list = data.get("list") as Array<number>
    data.set("a", 2)
    data.saved()
    expect(data.changed).toBe(false)
    list.push(9)
    expect(data.changes().set).toEqual(["list"])
  })

  it("an object set, saved, then mutated in place is seen", () => {
    const data = loaded()
    const value = { n: 1 }
    data.set("fresh", value)
    data.saved()
    value.n = 2
    expect(data.changes().set).toEqual(["fresh"])
  })
})

describe("SessionData operations", () => {
  it("without detectChanges, an object set, saved, then mutated in place is not seen", () => {
    const data = loaded(false)
    const value = { n: 1 }
    data.set("fresh", value)
    data.saved()
    value.n = 2
    expect(data.changed).toBe(false)
  })

  it("delete says whether the key was there", () => {
    const data = loaded()
    expect(data.delete("a")).toBe(true)
    expect(data.delete("a")).toBe(false)
    expect(data.has("a")).toBe(false)
  })

  it("clearing an empty session changes nothing; clearing one with values changes all of it", () => {
    const empty = new SessionData({}, { serializer: Serializer.json, detectChanges: true })
    empty.clear()
    expect(empty.changed).toBe(false)
    const data = loaded()
    data.clear()
    expect([data.changed, data.changes().whole, data.isEmpty]).toStrictEqual([true, true, true])
  })

  it("keys lists the keys, in the order they were stored", () => {
    expect(loaded().keys()).toStrictEqual(["a", "list", "obj", "other"])
  })

  it.each([
    ["a duplicate is skipped when duplicates are not allowed", false, ["hi", "there"]],
    ["a duplicate is queued again when they are allowed", true, ["hi", "there", "hi"]]
  ])("flash: %s", (_, allowDuplicate, expected) => {
    const data = loaded()
    data.flash("hi", "q", false)
    data.flash("there", "q", false)
    data.flash("hi", "q", allowDuplicate)
    expect(data.peekFlash("q")).toStrictEqual(expected)
    expect(data.peekFlash(undefined)).toStrictEqual([])
  })
})
