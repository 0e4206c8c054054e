/**
 * One way of finding a field's value. Returns the normalised value, or null/undefined when this rule
 * has nothing good to offer, so that the next rule gets its turn.
 */
export interface Rule<C, T> {
  /** Short name for debugging ("og:image", "jsonld.datePublished"). */
  readonly name: string;
  readonly run: (ctx: C) => T | null | undefined;
}

/** The winning value and the rule that produced it. */
export interface RuleHit<T> {
  value: T;
  rule: string;
}

/**
 * Runs the rules in order and returns the first good value. A rule that throws makes the whole field
 * null (the caller's record survives): a broken rule must not silently hand the field to a weaker one.
 */
export function firstGood<C, T>(rules: readonly Rule<C, T>[], ctx: C): RuleHit<T> | null {
  try {
    for (const rule of rules) {
      const value = rule.run(ctx);
      if (value !== null && value !== undefined) return { value, rule: rule.name };
    }
  } catch {
    return null;
  }
  return null;
}

/** Runs `compute`, turning a throw into `fallback`; used for fields that are not rule lists. */
export function guarded<T>(compute: () => T, fallback: T): T {
  try {
    return compute();
  } catch {
    return fallback;
  }
}
