/**
 * The UI's one style sheet, served from `/static/vigil.css`. Kept in a module rather than a
 * file read at run time so the app works the same from the repo, a bundle or a compiled binary.
 * Served with an ETag; the CSP allows style from 'self' only, so no page carries inline style.
 */

/** Where pages link the style sheet. */
export const STYLE_PATH = "/static/vigil.css";

/** The style sheet. */
export const STYLE_CSS = `
:root { --fg: #1d2430; --muted: #5b6677; --line: #d7dce3; --bg: #f6f7f9; --accent: #1f5fbf;
  --ok: #1d7a3a; --warn: #a15c00; --bad: #b3261e; font-family: system-ui, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 15px; }
header.top { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem;
  background: #16202e; color: #fff; }
header.top a { color: #cfd8e6; text-decoration: none; }
header.top a.active, header.top a:hover { color: #fff; text-decoration: underline; }
header.top .brand { font-weight: 700; color: #fff; letter-spacing: .04em; }
header.top nav { display: flex; gap: 1rem; flex: 1; }
header.top form.who { display: flex; gap: .6rem; align-items: center; margin-left: auto; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .5rem; text-align: left;
  vertical-align: top; }
th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.stmt, pre { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-word;
  margin: 0; }
pre.block { background: #fff; border: 1px solid var(--line); padding: .6rem; }
.ctl { background: #ffe9a8; color: #6b3b00; border: 1px solid #e0b44c; border-radius: 3px;
  padding: 0 .15em; font-size: .85em; }
.none, small, .muted { color: var(--muted); }
.ok { color: var(--ok); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.notice { background: #fff; border-left: 4px solid var(--accent); padding: .6rem .8rem;
  margin: .8rem 0; }
.notice.bad { border-color: var(--bad); color: var(--fg); font-weight: normal; }
.notice.secret code { font-size: 1.05rem; background: #fff8d6; padding: .2rem .4rem; }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
  gap: .5rem .8rem; align-items: end; background: #fff; padding: .8rem;
  border: 1px solid var(--line); }
form.filters label, form.stack label { display: flex; flex-direction: column; font-size: .85rem;
  color: var(--muted); gap: .15rem; }
form.stack { display: flex; gap: .6rem; flex-wrap: wrap; align-items: end; margin: .5rem 0; }
form.inline { display: inline; }
input, select, button { font: inherit; padding: .3rem .45rem; }
button { cursor: pointer; background: var(--accent); color: #fff; border: 0; border-radius: 3px; }
button.secondary { background: #e3e8ef; color: var(--fg); }
button.danger { background: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .8rem; }
.card { background: #fff; border: 1px solid var(--line); padding: .7rem .9rem; }
.card .big { font-size: 1.5rem; font-weight: 600; }
svg.chart { background: #fff; border: 1px solid var(--line); width: 100%; max-width: 640px;
  height: auto; }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.chart .lag { fill: none; stroke: var(--warn); stroke-width: 1.2; stroke-dasharray: 4 3; }
svg.chart .axis { stroke: var(--line); }
svg.chart text { font-size: 10px; fill: var(--muted); }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem;
  background: #fff; padding: .8rem; border: 1px solid var(--line); }
dl.fields dt { font-weight: 600; }
dl.fields dd { margin: 0; }
.pager { display: flex; gap: 1rem; margin: .8rem 0; }
.login { max-width: 22rem; margin: 3rem auto; background: #fff; padding: 1.2rem;
  border: 1px solid var(--line); }
.login label { display: flex; flex-direction: column; margin-bottom: .7rem; }
@media print {
  header.top, form, .noprint { display: none; }
  body { background: #fff; }
  main { max-width: none; }
}
`;
