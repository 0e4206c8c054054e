/**
 * The pages' stylesheet (served as /static/app.<hash>.css): plain CSS, one column on a phone, a grid
 * of cards from tablet width, visible keyboard focus, and a neutral placeholder for missing banners.
 */
export const appStylesheet = String.raw`:root {
  color-scheme: light dark;
  --fg: #1d1d1f; --muted: #5b5b66; --bg: #fafafa; --card: #ffffff; --line: #d8d8de;
  --accent: #1f5fbf; --ok: #1d7a3d; --warn: #8a5a00; --bad: #b3261e; --placeholder: #e6e6ea;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.45;
}
@media (prefers-color-scheme: dark) {
  :root { --fg: #ececf1; --muted: #a9a9b6; --bg: #15151a; --card: #1f1f26; --line: #3a3a44; --accent: #8ab4ff; --ok: #7fd49a; --warn: #f0c060; --bad: #ff8a80; --placeholder: #2c2c35; }
}
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; }
.skip:focus { left: .5rem; }
header.site { padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
.brand { font-weight: 600; text-decoration: none; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; overflow-wrap: anywhere; }
form.submit { display: grid; gap: .5rem; max-width: 48rem; }
textarea, input[type=text] { width: 100%; font: inherit; padding: .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--card); color: var(--fg); }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9rem; }
button { font: inherit; padding: .55rem 1.1rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; justify-self: start; }
button:disabled { opacity: .6; cursor: progress; }
.error { border: 2px solid var(--bad); border-radius: 6px; padding: .5rem 1rem; margin: 0 0 1rem; max-width: 48rem; }
.error strong { color: var(--bad); }
.rejected { padding-left: 1.2rem; overflow-wrap: anywhere; }
.notice { border-left: 4px solid var(--warn); padding: .25rem .75rem; overflow-wrap: anywhere; }
.summary { display: grid; gap: .5rem; margin-bottom: 1rem; }
.counts { margin: 0; font-weight: 600; }
progress { width: 100%; height: 1rem; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem 1.25rem; align-items: center; }
.actions form { margin: 0; }
main:not(:has(.card.failed, #feeds .badge.failed)) form.retry { display: none; }
.tally { color: var(--muted); margin: 1rem 0 0; }
.live { min-height: 1.2em; margin: 0; color: var(--muted); }
.feeds ul { padding-left: 1.2rem; overflow-wrap: anywhere; }
.cards { list-style: none; padding: 0; margin: 0; display: grid; gap: 1rem; grid-template-columns: 1fr; }
@media (min-width: 40rem) { .cards { grid-template-columns: repeat(auto-fill, minmax(18rem, 1fr)); } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; display: flex; flex-direction: column; content-visibility: auto; contain-intrinsic-size: auto 22rem; }
.card.failed { border-color: var(--bad); }
.banner { aspect-ratio: 16 / 9; background: var(--placeholder); }
.banner img { width: 100%; height: 100%; object-fit: cover; display: block; }
.placeholder { width: 100%; height: 100%; display: grid; place-items: center; background: repeating-linear-gradient(135deg, var(--placeholder) 0 12px, var(--card) 12px 24px); }
.placeholder::after { content: "No image"; color: var(--muted); font-size: .85rem; background: var(--card); padding: .1rem .5rem; border-radius: 4px; }
.card .body { padding: .75rem 1rem 1rem; }
.title { font-size: 1.1rem; margin: 0 0 .35rem; overflow-wrap: anywhere; }
.meta { margin: 0 0 .5rem; color: var(--muted); font-size: .9rem; }
.reason { margin: .25rem 0; overflow-wrap: anywhere; }
.badge { display: inline-block; font-size: .8rem; font-weight: 600; padding: .05rem .45rem; border-radius: 999px; border: 1px solid currentColor; }
.badge.pending { color: var(--warn); }
.badge.failed { color: var(--bad); }
.detail { font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
.outline { margin: .5rem 0 0; padding-left: 1.2rem; font-size: .9rem; color: var(--muted); }
`;
