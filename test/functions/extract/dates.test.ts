import assert from 'node:assert/strict';
import { findDateInText, parseDate, plausibleDate } from '../../../functions/src/extract/dates';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const iso = (raw: string): string | null => parseDate(raw)?.iso ?? null;

describe('dates', () => {
  it('keeps the offset the page wrote, so the publisher’s calendar day survives', () => {
    assert.equal(iso('2015-03-10T23:05:41-07:00'), '2015-03-10T23:05:41-07:00');
    assert.equal(iso('2015-03-10T23:05:41+0530'), '2015-03-10T23:05:41+05:30');
    assert.equal(parseDate('2015-03-10T23:05:41-07:00')!.ms, Date.parse('2015-03-11T06:05:41Z'));
  });

  it('reads zone-less values as UTC, independent of the machine’s time zone', () => {
    assert.equal(iso('2016-05-24 13:30:03'), '2016-05-24T13:30:03Z');
    assert.equal(iso('2016-05-24'), '2016-05-24T00:00:00Z');
    assert.equal(iso('2016/05/24'), '2016-05-24T00:00:00Z');
  });

  it('reads CJK dates with their times', () => {
    assert.equal(iso('2019年4月14日'), '2019-04-14T00:00:00Z');
    assert.equal(iso('2019年04月21日 12時00分'), '2019-04-21T12:00:00Z');
    assert.equal(iso('2019년 4월 14일'), '2019-04-14T00:00:00Z');
  });

  it('reads numeric dates: dotted day first, slashed or dashed month first unless the page says day first', () => {
    assert.equal(iso('14.04.2019'), '2019-04-14T00:00:00Z');
    assert.equal(iso('03.04.2019 10:30'), '2019-04-03T10:30:00Z');
    assert.equal(iso('04-14-2019'), '2019-04-14T00:00:00Z');
    assert.equal(iso('03/04/2019'), '2019-03-04T00:00:00Z');
    assert.equal(parseDate('03/04/2019', 'dmy')?.iso, '2019-04-03T00:00:00Z');
    assert.equal(parseDate('14/04/2019', 'mdy')?.iso, '2019-04-14T00:00:00Z');
    assert.equal(iso('2019/4/14 9:05 pm'), '2019-04-14T21:05:00Z');
    assert.equal(iso('12/25/2019 08:00 EST'), '2019-12-25T08:00:00-05:00');
  });

  it('reads month names of the major European languages', () => {
    assert.equal(iso('14 de abril de 2019'), '2019-04-14T00:00:00Z');
    assert.equal(iso('14. April 2019'), '2019-04-14T00:00:00Z');
    assert.equal(iso('14 kwietnia 2019'), '2019-04-14T00:00:00Z');
    assert.equal(iso('14 апреля 2019'), '2019-04-14T00:00:00Z');
    assert.equal(iso('14 april 2019'), '2019-04-14T00:00:00Z');
  });

  it('finds CJK and numeric dates in running text, not version numbers', () => {
    assert.equal(findDateInText('投稿日 2019年4月13日 by doumae', NOW)?.date.iso, '2019-04-13T00:00:00Z');
    assert.equal(findDateInText('By.KJ : 2019/04/04 09:00 間違いの指摘', NOW)?.date.iso, '2019-04-04T09:00:00Z');
    assert.equal(findDateInText('Release 1.2.3 of the tool, build 10.11.12', NOW), null);
    assert.equal(findDateInText('Aktualisiert 04.05.2019, zuerst 03.04.2019', NOW, 'dmy')?.date.iso, '2019-04-03T00:00:00Z');
  });

  it('keeps milliseconds when given', () => {
    assert.equal(iso('2019-10-18T17:23:34.816Z'), '2019-10-18T17:23:34.816Z');
  });

  it('reads written-out dates in English and other languages', () => {
    assert.equal(iso('March 10, 2015'), '2015-03-10T00:00:00Z');
    assert.equal(iso('Tue, 10 Mar 2015 08:05:41 GMT'), '2015-03-10T08:05:41Z');
    assert.equal(iso('10 mars 2015'), '2015-03-10T00:00:00Z');
    assert.equal(iso('Sept. 3rd, 2019 at 4:05 pm'), '2019-09-03T16:05:00Z');
  });

  it('reads asctime and Date#toString forms and tolerates a "+5.30" offset', () => {
    assert.equal(iso('Tue May 24 05:55:00 2016'), '2016-05-24T05:55:00Z');
    assert.equal(iso('Tue May 24 2016 05:55:00 GMT-0700'), '2016-05-24T05:55:00-07:00');
    assert.equal(iso('2016-05-14T16:34+5.30'), '2016-05-14T16:34:00+05:30');
  });

  it('reads Unix timestamps in seconds and milliseconds', () => {
    assert.equal(iso('1426000000'), '2015-03-10T15:06:40.000Z');
    assert.equal(iso('1426000000000'), '2015-03-10T15:06:40.000Z');
  });

  it('rejects impossible dates and nonsense', () => {
    for (const bad of ['2015-02-30', '2015-13-01', 'yesterday', '', '12345', 'Mayor 12, 2015']) assert.equal(parseDate(bad), null, bad);
  });

  it('rejects dates in the future and before the web', () => {
    assert.equal(plausibleDate('2026-06-01', NOW), null);
    assert.equal(plausibleDate('1970-01-01T00:00:00Z', NOW), null);
    assert.notEqual(plausibleDate('2025-12-31T23:00:00Z', NOW), null);
  });

  it('finds the first date in running text but not an update stamp', () => {
    assert.equal(findDateInText('Posted on March 10, 2015 by Ann', NOW)?.raw, 'March 10, 2015');
    assert.equal(findDateInText('Updated March 12, 2015. Originally 3 March 2015', NOW)?.raw, '3 March 2015');
    assert.equal(findDateInText('No date here at all', NOW), null);
  });
});
