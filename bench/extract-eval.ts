/**
 * Scores extractArticle on both shared evaluation sets, each with its own scorer, in one run.
 *
 *   npx tsx bench/extract-eval.ts [scorer flags…]        e.g. --fails date, --fails author, --set 2
 *
 * Set 1 (`../shared/eval`: title, date, image, words, outline) and set 2 (`../shared/eval2`: title, date,
 * image, author, words) are found from the repository root (also one level further up, for a git worktree
 * kept in a subfolder), or from `EXTRACT_EVAL_DIR` / `EXTRACT_EVAL2_DIR`. They are measurement data and
 * are never copied into the project. `--set 1|2` scores one set only; other flags go to the scorers
 * (`--fails FIELD` is passed only to the set that has that field). Each scorer imports this module and
 * calls `extract(html, url)`; set 2 runs with `TZ=UTC`, as its README asks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { extractArticle } from '../functions/src/extract';

export async function extract(html: string, url: string): Promise<Record<string, unknown>> {
  const article = extractArticle(html, url);
  return {
    ...article,
    // Set 1's scorer expects a summary in place of the outline for articles without headings.
    outline: article.outline.length ? article.outline : article.summary ? [article.summary] : [],
    // Set 2's scorer reads `author` and joins a list with ", ".
    author: article.authors,
  };
}

/** The two evaluation sets: folder name next to the repository and the variable that overrides it. */
export const EVAL_SETS = {
  1: { folder: 'eval', env: 'EXTRACT_EVAL_DIR' },
  2: { folder: 'eval2', env: 'EXTRACT_EVAL2_DIR' },
} as const;

/**
 * An evaluation set's folder: an explicit argument, else its variable, else `../shared/<folder>` from the
 * repository root (also tried one level further up).
 */
export function evalDir(arg: string | undefined, env: NodeJS.ProcessEnv = process.env, set: keyof typeof EVAL_SETS = 1): string {
  const repoRoot = path.resolve(__dirname, '..');
  const explicit = arg ?? env[EVAL_SETS[set].env];
  if (explicit) return path.resolve(repoRoot, explicit);
  const candidates = [`../shared/${EVAL_SETS[set].folder}`, `../../shared/${EVAL_SETS[set].folder}`].map((p) => path.resolve(repoRoot, p));
  return candidates.find((c) => existsSync(path.join(c, 'truth.json'))) ?? candidates[0]!;
}

/** Fields each set's scorer knows, for passing `--fails FIELD` only where it means something. */
const FIELDS: Record<keyof typeof EVAL_SETS, readonly string[]> = {
  1: ['title', 'date', 'image', 'words', 'outline', 'rt'],
  2: ['title', 'date', 'date~', 'image', 'author', 'words'],
};

function main(): void {
  const args = process.argv.slice(2);
  const setAt = args.indexOf('--set');
  const only = setAt >= 0 ? Number(args.splice(setAt, 2)[1]) : null;
  const failsAt = args.indexOf('--fails');
  const fails = failsAt >= 0 ? args[failsAt + 1] : undefined;
  let status = 0;
  for (const set of [1, 2] as const) {
    if (only !== null && only !== set) continue;
    const dir = evalDir(undefined, process.env, set);
    const scorer = path.join(dir, 'score.mjs');
    if (!existsSync(scorer)) {
      console.log(`extract-eval: no evaluation set ${set} at ${dir} (score.mjs missing); skipped.`);
      continue;
    }
    const flags = fails !== undefined && !FIELDS[set].includes(fails) ? args.filter((_, i) => i !== failsAt && i !== failsAt + 1) : args;
    console.log(`\n# set ${set} (${path.basename(dir)})`);
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', scorer, '--truth', path.join(dir, 'truth.json'), '--module', __filename, '--name', 'extractArticle', ...flags],
      { stdio: 'inherit', env: set === 2 ? { ...process.env, TZ: 'UTC' } : process.env },
    );
    status ||= result.status ?? 1;
  }
  process.exitCode = status;
}

if (require.main === module) main();
