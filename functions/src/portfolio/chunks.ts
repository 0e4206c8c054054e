/**
 * A portfolio's articles read in chunks, in index order, one chunk ahead: the page streams the cards
 * of a chunk while the next is read, so its first cards need not wait for 1,000 reads. The reads cost
 * what one getAll would (one per article).
 */

/** Chunk sizes: a first screenful, then twice the last one, up to the largest (fewer round trips). */
export const FIRST_CHUNK = 24;
export const LARGEST_CHUNK = 400;

/** Splits indexes `0 … count-1` into chunks of `first`, doubling up to `largest`. */
export function chunkIndexes(count: number, first = FIRST_CHUNK, largest = LARGEST_CHUNK): number[][] {
  const chunks: number[][] = [];
  let size = first;
  for (let start = 0; start < count; size = Math.min(largest, size * 2)) {
    const end = Math.min(count, start + size);
    chunks.push(Array.from({ length: end - start }, (_value, offset) => start + offset));
    start = end;
  }
  return chunks;
}

/**
 * Reads the chunks in order with `read`: the next read starts as soon as the current one has
 * arrived, while the caller handles it (one read in flight at a time, so the first chunk is not
 * slowed by the others). A read that fails rejects the iteration at that chunk; one started ahead
 * and never awaited (the caller stopped) is not an unhandled rejection.
 */
export async function* readAhead<T>(chunks: number[][], read: (indexes: number[]) => Promise<T>): AsyncGenerator<T> {
  let pending: Promise<T> | undefined = chunks[0] === undefined ? undefined : read(chunks[0]);
  for (let position = 1; pending !== undefined; position += 1) {
    const arrived = await pending;
    const following = chunks[position];
    pending = following === undefined ? undefined : read(following);
    pending?.catch(() => undefined);
    yield arrived;
  }
}
