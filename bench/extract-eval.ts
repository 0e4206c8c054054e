/**
 * Scores extractArticle on the shared evaluation set with the set's own scorer.
 *
 *   npx tsx bench/extract-eval.ts [evalDir] [scorer flags…]     e.g. --fails date, --subset real
 *
 * evalDir defaults to `EXTRACT_EVAL_DIR`, else ../shared/eval relative to the repository root (the set is
 * measurement data and is never copied into the project). The scorer imports this module and calls
 * `extract(html, url)`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { extractArticle } from '../functions/src/extract';

export async function extract(html: string, url: string): Promise<Record<string, unknown>> {
  const article = extractArticle(html, url);
  // The scorer expects a summary in place of the outline for articles without headings.
  return { ...article, outline: article.outline.length ? article.outline : article.summary ? [article.summary] : [] };
}

/**
 * The evaluation set's folder: an explicit argument, else `EXTRACT_EVAL_DIR`, else `../shared/eval` from
 * the repository root (also tried one level further up, for a git worktree kept in a subfolder).
 */
export function evalDir(arg: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const repoRoot = path.resolve(__dirname, '..');
  const explicit = arg ?? env['EXTRACT_EVAL_DIR'];
  if (explicit) return path.resolve(repoRoot, explicit);
  const candidates = ['../shared/eval', '../../shared/eval'].map((p) => path.resolve(repoRoot, p));
  return candidates.find((c) => existsSync(path.join(c, 'truth.json'))) ?? candidates[0]!;
}

function main(): void {
  const args = process.argv.slice(2);
  const dirArg = args[0] && !args[0].startsWith('--') ? args.shift() : undefined;
  const dir = evalDir(dirArg);
  const scorer = path.join(dir, 'score.mjs');
  if (!existsSync(scorer)) {
    console.log(`extract-eval: no evaluation set at ${dir} (score.mjs missing); skipped.`);
    return;
  }
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', scorer, '--truth', path.join(dir, 'truth.json'), '--module', __filename, '--name', 'extractArticle', ...args],
    { stdio: 'inherit' },
  );
  process.exitCode = result.status ?? 1;
}

if (require.main === module) main();
