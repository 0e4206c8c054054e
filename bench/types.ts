/** One section of BENCHMARKS.md, produced by `bench/<area>.ts`. */
export type BenchSection = { title: string; command: string; markdown: string };
