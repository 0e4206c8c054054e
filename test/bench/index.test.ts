import assert from 'node:assert/strict';
import { ratioLines, renderReport, splitBlocks, type SectionResult } from '../../bench/index';

const machine: Array<[string, string]> = [
  ['CPU', 'Test CPU × 2 logical cores'],
  ['Node', 'v20.0.0'],
];

const extract: SectionResult = {
  name: 'extract',
  status: 'ok',
  seconds: 12,
  section: {
    title: 'Extraction',
    command: 'npx tsx bench/extract.ts',
    markdown: '| what | ms |\n|---|---|\n| ours | 7.7 |\n\n- extractArticle median is 0.11× metascraper\'s (goal ≤ 0.33×).\n- 108 pages.',
  },
};

describe('bench/index: BENCHMARKS.md', function () {
  it('collects the ratio sentences of each section, not table rows', function () {
    assert.deepEqual(ratioLines(extract.status === 'ok' ? extract.section.markdown : ''), ["extractArticle median is 0.11× metascraper's (goal ≤ 0.33×)."]);
    assert.deepEqual(ratioLines('| a | 3× |\nplain text\n- 2.5x faster than the baseline'), ['2.5x faster than the baseline']);
  });

  it('writes the machine, the command, every section and a note for a section that could not run', function () {
    const report = renderReport('', [extract, { name: 'ingest', status: 'skipped', reason: 'bench/ingest.ts does not exist yet.', seconds: 0 }], {
      full: true,
      command: 'npm run bench',
      measuredAt: '2026-11-28 14:00 UTC',
      machine,
    });
    assert.match(report, /^# Benchmarks\n/);
    assert.match(report, /\| CPU \| Test CPU × 2 logical cores \|/);
    assert.match(report, /Written by `npm run bench` on 2026-11-28 14:00 UTC/);
    assert.match(report, /- Extraction: extractArticle median is 0\.11× metascraper's/);
    assert.match(report, /## Extraction\n[\s\S]*`npx tsx bench\/extract\.ts` — measured 2026-11-28 14:00 UTC in 12 s\n\n\| what \| ms \|/);
    assert.match(report, /## Ingest\n[\s\S]*Skipped in the run of 2026-11-28 14:00 UTC: bench\/ingest\.ts does not exist yet\./);
  });

  it('on a later run replaces only the generated text, keeping notes and sections written by hand', function () {
    const first = renderReport('', [extract], { full: true, command: 'npm run bench', measuredAt: 'T1', machine });
    const edited = first.replace(/(<!-- bench:end extract -->\n)/, '$1\nAccuracy, measured by hand: title 0.97.\n') + '\n## Scraper memory in production\n\nNotes from Cloud Run.\n';
    const second = renderReport(
      edited,
      [{ ...extract, section: { ...(extract.status === 'ok' ? extract.section : { title: '', command: '' }), markdown: '| what | ms |\n|---|---|\n| ours | 6.1 |' } }],
      { full: false, command: 'npm run bench -- extract', measuredAt: 'T2', machine },
    );
    assert.match(second, /\| ours \| 6\.1 \|/);
    assert.doesNotMatch(second, /\| ours \| 7\.7 \|/);
    assert.match(second, /bench:end extract -->\n\nAccuracy, measured by hand: title 0\.97\./);
    assert.match(second, /## Scraper memory in production\n\nNotes from Cloud Run\./);
    // A partial run keeps the header of the last full run.
    assert.match(second, /Written by `npm run bench` on T1/);
    assert.equal(splitBlocks(second).blocks.filter((block) => block.heading === 'Extraction').length, 1);
  });

  it('keeps a section written by hand before the markers existed, below the generated table', function () {
    const legacy = '# Benchmarks\n\n## Extraction\n\nAccuracy table by hand.\n';
    const report = renderReport(legacy, [extract], { full: false, command: 'npm run bench -- extract', measuredAt: 'T3', machine });
    assert.match(report, /bench:end extract -->\n\nKept from the hand-written version[^\n]*\n\nAccuracy table by hand\./);
  });
});
