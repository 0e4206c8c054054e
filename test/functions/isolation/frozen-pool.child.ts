/**
 * For extractPool.test.ts to freeze: a pool that has started a worker prints "extracting" as it hands
 * a page of a second or more to it, then prints how the extraction ended ("ok" or the error's code).
 */
import { ExtractPool } from '../../../functions/src/isolation/extractPool';

const SMALL = '<html><head><title>Small</title></head><body><p>A few words of an ordinary article.</p></body></html>';
const SLOW = '<b></b>'.repeat(99_000) + 'word '.repeat(800_000);

async function main(): Promise<void> {
  const pool = new ExtractPool({ size: 1, deadlineMs: 6_000, maxHeapMb: 256 });
  await pool.extract(SMALL, 'https://example.com/warm');
  const extracted = pool.extract(SLOW, 'https://example.com/slow');
  process.stdout.write('extracting\n');
  const outcome = await extracted.then(
    () => 'ok',
    (error: { code?: string }) => error.code ?? 'error',
  );
  process.stdout.write(`${outcome}\n`);
  await pool.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
