/**
 * An effect run at most once at a time until it succeeds. Callers arriving
 * while it runs wait for its outcome; a failure or an interruption lets the
 * next caller try again.
 */
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"

/** @internal */
export class Once<E> {
  /** `onFailure` runs after a failed run, before its waiters resume. */
  constructor(readonly onFailure?: (cause: Cause.Cause<E>) => Effect.Effect<void>) {}

  // Stryker disable next-line StringLiteral: equivalent, only "Running" and "Done" are ever asked about
  #state: "Idle" | "Running" | "Done" = "Idle"
  #waiters: Array<Deferred.Deferred<void, E>> | undefined
  #failure: Cause.Cause<E> | undefined

  /** Why the last run failed, if it did. */
  get failure(): Cause.Cause<E> | undefined {
    return this.#failure
  }

  get done(): boolean {
    return this.#state === "Done"
  }

  /** Done without running: what it would have produced was replaced. */
  complete(): void {
    this.#state = "Done"
  }

  /** Runs `effect` unless it is done; joins the run in progress. Decided when run, not when built. */
  run(effect: () => Effect.Effect<void, E>): Effect.Effect<void, E> {
    if (this.#state === "Done") return Effect.void
    if (this.#state === "Running") {
      return Effect.suspend(() => this.#state === "Running" ? this.#join() : this.run(effect))
    }
    this.#state = "Running"
    // onExit, not onSuccess: an interrupted run must not stay "Running".
    return Effect.onExit(effect(), (exit) => {
      // Stryker disable next-line StringLiteral: equivalent, only "Running" and "Done" are ever asked about
      this.#state = exit._tag === "Success" ? "Done" : "Idle"
      // Stryker disable next-line ConditionalExpression: equivalent, a success has no cause to keep
      if (exit._tag === "Failure") this.#failure = exit.cause
      const waiters = this.#waiters
      this.#waiters = undefined
      const reported = exit._tag === "Failure" && this.onFailure !== undefined
        ? this.onFailure(exit.cause)
        : Effect.void
      if (waiters === undefined) return reported
      return Effect.zipRight(
        reported,
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, the collected results are dropped
        Effect.forEach(waiters, (waiter) => Deferred.done(waiter, exit), { discard: true })
      )
    })
  }

  /** Waits for the run in progress, if any, whatever its outcome. */
  settled(): Effect.Effect<void> {
    return Effect.suspend(() => this.#state === "Running" ? Effect.ignore(this.#join()) : Effect.void)
  }

  /** The Deferred is made only in this rare case: two operations racing for the first load. */
  #join(): Effect.Effect<void, E> {
    return Effect.flatMap(Deferred.make<void, E>(), (waiter) => {
      ;(this.#waiters ??= []).push(waiter)
      return Deferred.await(waiter)
    })
  }
}
