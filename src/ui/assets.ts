import { createHash } from 'node:crypto';

// The UI's one stylesheet and its small script, served from /ui/assets/ with a content hash in the URL
// so browsers cache them and a new release is fetched at once. Pages work without the script.

const CSS = `
:root {
  --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --line: #d0d7de;
  --link: #0550ae; --focus: #bf3989; --ok: #1a7f37; --warn: #9a6700; --crit: #cf222e; --info: #0550ae;
  --warn-bg: #fff8c5; --crit-bg: #ffebe9; --ok-bg: #dafbe1; --info-bg: #ddf4ff;
  font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; font-size: 15px; line-height: 1.45;
  color: var(--fg); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--link); }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1.25rem; padding: .5rem 1.25rem;
  background: #24292f; color: #fff; }
header.top a { color: #fff; text-decoration: none; padding: .35rem .1rem; border-bottom: 3px solid transparent; }
header.top a:hover, header.top a[aria-current="page"] { border-bottom-color: #fff; }
header.top .brand { font-weight: 700; letter-spacing: .02em; margin-right: .5rem; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.top .who { margin-left: auto; display: flex; align-items: center; gap: .75rem; font-size: .9rem; }
header.top .who button { background: transparent; color: #fff; border: 1px solid #8c959f; }
main { padding: 1rem 1.25rem 3rem; max-width: 1400px; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .6rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
.muted { color: var(--muted); }
.crumbs { font-size: .9rem; color: var(--muted); margin-top: .5rem; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.selected td { background: var(--info-bg); }
tr[data-row]:focus-within td { background: var(--info-bg); }
.badge { display: inline-flex; align-items: center; gap: .3em; padding: .05rem .5rem; border-radius: 999px;
  font-size: .82rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.badge.critical { color: var(--crit); background: var(--crit-bg); }
.badge.warning { color: var(--warn); background: var(--warn-bg); }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.info { color: var(--info); background: var(--info-bg); }
.badge.neutral { color: var(--muted); background: var(--panel); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .75rem; margin: .5rem 0 1rem; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; background: var(--panel); }
.card .label { font-size: .8rem; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card { text-decoration: none; }
.card .value { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.grid2 { display: grid; grid-template-columns: minmax(0, 3fr) minmax(300px, 2fr); gap: 1.5rem; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } main { padding: .75rem; } header.top .who { margin-left: 0; } }
.panel { border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; margin-bottom: 1rem; }
.panel h2:first-child, .panel h3:first-child { margin-top: 0; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end; margin: .5rem 0 1rem; }
label { display: block; font-weight: 600; font-size: .88rem; margin-bottom: .2rem; }
.field { margin-bottom: .75rem; }
.hint { font-size: .85rem; color: var(--muted); margin: .2rem 0 0; }
input[type=text], input[type=password], input[type=datetime-local], select, textarea {
  font: inherit; padding: .4rem .5rem; border: 1px solid #8c959f; border-radius: 6px; background: #fff; color: var(--fg);
  max-width: 100%; }
textarea { width: 100%; min-height: 4.5rem; }
button, .button { font: inherit; font-weight: 600; padding: .4rem .9rem; border-radius: 6px; border: 1px solid #8c959f;
  background: var(--panel); color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button.primary { background: #1f6feb; border-color: #1f6feb; color: #fff; margin-right: .75rem; }
button.small { font-size: .82rem; font-weight: 400; padding: .1rem .5rem; }
button.danger { background: var(--crit); border-color: var(--crit); color: #fff; }
fieldset { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem .75rem; margin: 0 0 .75rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.choice { display: flex; gap: .5rem; align-items: baseline; margin: .3rem 0; }
.choice label { font-weight: 400; display: inline; }
.notice { border-left: 5px solid var(--info); background: var(--info-bg); padding: .6rem .9rem; margin: 0 0 1rem; border-radius: 4px; }
.notice.error { border-color: var(--crit); background: var(--crit-bg); }
.notice.ok { border-color: var(--ok); background: var(--ok-bg); }
.notice.warn { border-color: var(--warn); background: var(--warn-bg); }
.notice p { margin: .25rem 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
ol.trail { list-style: none; padding: 0; margin: 0; }
ol.trail li { border-left: 3px solid var(--line); padding: .3rem 0 .5rem .8rem; }
ol.trail li .when { color: var(--muted); font-size: .85rem; }
figure.chart { margin: .5rem 0 1rem; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figure.chart figcaption { font-size: .85rem; color: var(--muted); }
.kbd, kbd { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .8rem; border: 1px solid var(--line);
  border-bottom-width: 2px; border-radius: 4px; padding: 0 .3rem; background: var(--panel); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.inline-form { display: inline; }
.narrow { max-width: 32rem; }
.pager { margin: .75rem 0; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .88em; }
/* browse pages */
.chart-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr)); gap: .5rem 1.25rem; }
#drift-heatmap { overflow-x: auto; }
#drift-heatmap svg { min-width: 640px; }
td.spark figure.chart { margin: 0; }
td.spark svg { width: 140px; }
.confirm { border-left: 5px solid var(--warn); background: var(--warn-bg); padding: .6rem .9rem; border-radius: 4px; margin: 0 0 1rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.actions form { display: inline; }
`;

const JS = `
// Keyboard triage on lists with rows marked data-row: j/k (or arrows) move, o opens, / focuses the first
// filter; on an alert, a focuses "Assign to me" and d the decision. Ignored while typing in a field, and
// switched off (remembered in this browser) with the button marked data-shortcuts-toggle.
(function () {
  var KEY = 'driftwatch-shortcuts';
  var on = true;
  try { on = window.localStorage.getItem(KEY) !== 'off'; } catch (e) {}
  Array.prototype.forEach.call(document.querySelectorAll('[data-shortcuts-toggle]'), function (b) {
    function label() { b.textContent = on ? 'Turn keyboard shortcuts off' : 'Turn keyboard shortcuts on'; b.setAttribute('aria-pressed', on ? 'false' : 'true'); }
    b.hidden = false;
    label();
    b.addEventListener('click', function () {
      on = !on;
      try { window.localStorage.setItem(KEY, on ? 'on' : 'off'); } catch (e) {}
      label();
    });
  });
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-row]'));
  function typing(e) { var t = e.target; return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.tagName === 'BUTTON' || t.isContentEditable); }
  var at = -1;
  function select(i) {
    if (rows.length === 0) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle('selected', j === at); });
    var link = rows[at].querySelector('a[data-open]');
    if (link) link.focus();
  }
  document.addEventListener('keydown', function (e) {
    if (!on || e.altKey || e.ctrlKey || e.metaKey || typing(e)) return;
    if (e.key === 'j' || (e.key === 'ArrowDown' && at >= 0)) { select(at + 1); e.preventDefault(); }
    else if (e.key === 'k' || (e.key === 'ArrowUp' && at >= 0)) { select(at - 1); e.preventDefault(); }
    else if ((e.key === 'o') && at >= 0) { var l = rows[at].querySelector('a[data-open]'); if (l) l.click(); }
    else if (e.key === '/') { var f = document.querySelector('[data-filter]'); if (f) { f.focus(); e.preventDefault(); } }
    else if (e.key === 'a') { var a = document.getElementById('assign-me'); if (a) { a.focus(); e.preventDefault(); } }
    else if (e.key === 'd') { var d = document.getElementById('decision'); if (d) { d.focus(); e.preventDefault(); } }
  });
})();
`;

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

export const ASSETS = {
  'ui.css': { body: CSS, type: 'text/css; charset=utf-8', version: hash(CSS) },
  'ui.js': { body: JS, type: 'text/javascript; charset=utf-8', version: hash(JS) },
} as const;

export type AssetName = keyof typeof ASSETS;

export const assetUrl = (name: AssetName): string => `/ui/assets/${name}?v=${ASSETS[name].version}`;
