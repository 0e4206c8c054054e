import assert from 'node:assert/strict';
import { metaRefreshLocation, refreshTarget, SCAN_CHARS } from '../../../functions/src/fetch/metaRefresh';

describe('meta refresh', () => {
  it('reads the URL of a refresh content value in the spellings pages use', () => {
    assert.equal(refreshTarget('0;url=/real'), '/real');
    assert.equal(refreshTarget('0; URL=https://example.com/next'), 'https://example.com/next');
    assert.equal(refreshTarget(" 3 ; url = '/quoted' "), '/quoted');
    assert.equal(refreshTarget('0, /comma'), '/comma');
    assert.equal(refreshTarget('1.5; url="/fraction"'), '/fraction');
  });

  it('ignores a refresh without a URL, a slow reload and garbage', () => {
    for (const content of ['0', '30', '0;', '300; url=/later', 'soon; url=/x', '']) assert.equal(refreshTarget(content), null, content);
  });

  it('finds the refresh meta in the page, in any attribute order and case, and skips comments, scripts and styles', () => {
    assert.equal(metaRefreshLocation('<html><head><meta http-equiv="refresh" content="0;url=/real"></head></html>'), '/real');
    assert.equal(metaRefreshLocation("<META CONTENT='0; URL=/upper' HTTP-EQUIV='Refresh'>"), '/upper');
    assert.equal(metaRefreshLocation('<meta http-equiv=refresh content="0;url=/bare"/>'), '/bare');
    assert.equal(metaRefreshLocation('<!-- <meta http-equiv="refresh" content="0;url=/commented"> --><p>text</p>'), null);
    assert.equal(metaRefreshLocation('<script>document.write(\'<meta http-equiv="refresh" content="0;url=/js">\')</script>'), null);
    assert.equal(metaRefreshLocation('<meta name="viewport" content="width=device-width"><metadata http-equiv="refresh" content="0;url=/x">'), null);
    assert.equal(metaRefreshLocation('<meta http-equiv="refresh" content="600"><meta http-equiv="refresh" content="0;url=/second">'), '/second');
  });

  it('reads only the head of a page, in one pass, whatever follows', () => {
    const late = '<p>' + 'x'.repeat(SCAN_CHARS) + '</p><meta http-equiv="refresh" content="0;url=/late">';
    assert.equal(metaRefreshLocation(late), null);
    // Thousands of unterminated tags and comments end the scan instead of rescanning the page.
    assert.equal(metaRefreshLocation('<meta '.repeat(20_000)), null);
    assert.equal(metaRefreshLocation('<!--'.repeat(20_000)), null);
  });
});
