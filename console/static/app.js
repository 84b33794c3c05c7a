// SPDX-License-Identifier: Apache-2.0
// kura console page: reads the daemon through the console's JSON API
// (/api/*, relayed admin requests) every 5 seconds (every second while an
// array rebuilds, resyncs or scrubs), renders the dashboard
// with textContent only (names come from the network), mirrors the per-LUN
// history of the last hour that kura-console samples (/api/history: all of
// it at first, then the new points) for the charts (chart.js, uPlot), shows
// the kura-lockd hosts and VM leases (/api/cluster), and posts the forms to
// /api/action with the session's CSRF token.
'use strict';

const PERIOD_MS = 5000;
const BUSY_PERIOD_MS = 1000; // while an array rebuilds, resyncs or scrubs
const HOUR_S = 3600;
const S = { csrf: '', cluster: false, hist: {}, since: 0, interval: 5, skew: 0, last: {} };

function $(sel) { return document.querySelector(sel); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = el('tr');
  for (const c of cells) {
    const td = el('td');
    if (c instanceof Node) td.appendChild(c); else td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

function fill(tableSel, rows, empty) {
  const tb = $(tableSel + ' tbody');
  tb.replaceChildren(...rows);
  if (!rows.length) {
    const tr = el('tr'); const td = el('td', empty, 'empty');
    td.colSpan = $(tableSel + ' thead tr').children.length;
    tr.appendChild(td); tb.appendChild(tr);
  }
}

function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}

function bar(ratio, label, warn) {
  const b = el('div', null, 'bar' + (warn ? ' warn' : ''));
  const f = el('div', null, 'fill');
  f.style.width = Math.max(0, Math.min(100, ratio * 100)).toFixed(1) + '%';
  b.appendChild(f);
  b.appendChild(el('span', label));
  return b;
}

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (r.status === 401) { location.href = '/login'; throw new Error('logged out'); }
  if (!r.ok) {
    let why = r.statusText;
    try { why = (await r.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(why);
  }
  return path === '/api/metrics' ? r.text() : r.json();
}

async function apiOr(path, dflt) {
  try { return await api(path); } catch (e) { return dflt; }
}

// Prometheus text => [{name, labels, value}]
function parseProm(text) {
  const out = [];
  const lre = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(lre)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels: labels, value: parseFloat(m[3]) });
  }
  return out;
}

function metric(ms, name, match) {
  return ms.filter(s => s.name === name &&
    Object.keys(match).every(k => s.labels[k] === match[k]));
}

// The console's clock (Unix seconds), from the history's "now".
function consoleNow() { return Date.now() / 1000 + S.skew; }

// Merge the history's new points into S.hist ("target|lun" => columns) and
// drop what is older than an hour.
function mergeHistory(h) {
  S.interval = h.interval_s;
  S.skew = h.now - Date.now() / 1000;
  for (const l of h.luns) {
    const k = l.target + '|' + l.lun;
    const m = (S.hist[k] = S.hist[k] || { t: [], iops: [], mibs: [], lat: [] });
    l.t.forEach((t, i) => {
      if (m.t.length && t <= m.t[m.t.length - 1]) return;
      m.t.push(t); m.iops.push(l.iops[i]); m.mibs.push(l.mibs[i]); m.lat.push(l.lat_ms[i]);
      S.since = Math.max(S.since, t);
    });
  }
  for (const [k, m] of Object.entries(S.hist)) {
    let n = 0;
    while (n < m.t.length && m.t[n] < h.now - HOUR_S) n++;
    for (const a of ['t', 'iops', 'mibs', 'lat']) m[a].splice(0, n);
    if (!m.t.length) delete S.hist[k];
  }
}

// The newest rates of a LUN when they are recent (else undefined).
function lastRate(k) {
  const m = S.hist[k];
  const i = m ? m.t.length - 1 : -1;
  if (i < 0 || m.t[i] < consoleNow() - 3 * S.interval) return undefined;
  return { iops: m.iops[i], mibs: m.mibs[i], latMs: m.lat[i] };
}

function prGeneration(ms, l) {
  const s = metric(ms, 'kura_lun_pr_generation', { target: l.target, lun: String(l.lun) })[0];
  return s ? s.value : '-';
}

function renderLuns(luns, ms) {
  fill('#luns', luns.map(l => {
    const r = lastRate(l.target + '|' + l.lun);
    return row([l.target, l.lun, bytes((metric(ms, 'kura_lun_size_bytes',
      { target: l.target, lun: String(l.lun) })[0] || { value: 0 }).value),
    l.path || '-', r ? r.iops.toFixed(0) : '…', r ? r.mibs.toFixed(1) : '…',
    r ? (r.latMs === null ? '-' : r.latMs.toFixed(2) + ' ms') : '…', prGeneration(ms, l)]);
  }), 'no LUN');
}

function renderPools(pools) {
  fill('#pools', pools.map(p => {
    if (p.state === 'failed') return row([p.name, 'failed: ' + (p.reason || ''), '', '']);
    const used = p.chunks.total ? p.chunks.used / p.chunks.total : 0;
    const lw = p.low_water && p.chunks.free < p.low_water;
    return row([p.name,
      bar(used, (used * 100).toFixed(1) + '% of ' + bytes(p.chunks.total * p.chunk_size), lw || used > 0.9),
      bar(Math.min(p.overcommit / 4, 1), p.overcommit.toFixed(2) + 'x', p.overcommit > 2),
      p.volumes]);
  }), 'no pool');
}

function arrayWork(a) {
  if (a.rebuild && a.rebuild.running) return bar(a.rebuild.pct / 100, 'rebuild ' + a.rebuild.pct + '%', true);
  if (a.resync && a.resync.running) return bar(a.resync.pct / 100, 'resync ' + a.resync.pct + '%', true);
  if (a.scrub && a.scrub.running) return bar(a.scrub.pct / 100, 'scrub ' + a.scrub.pct + '%');
  return a.scrub && a.scrub.units ? 'last scrub: ' + a.scrub.mismatches + ' mismatch(es)' : 'idle';
}

function renderArrays(arrays) {
  fill('#arrays', arrays.map(a => {
    if (a.state === 'failed' && !a.members) return row([a.name, '', el('span', 'failed', 'state bad'), a.reason || '', '']);
    const st = el('span', a.state, 'state ' + (a.state === 'clean' ? 'good' : 'bad'));
    const mem = a.members.map(m => m.role + ':' + m.state).join(' ');
    return row([a.name, 'RAID ' + a.level, st, mem, arrayWork(a)]);
  }), 'no array');
}

function renderSessions(sessions) {
  fill('#sessions', sessions.filter(s => s.target).map(s => row([s.initiator, s.target,
    s.address, s.header_digest + '/' + s.data_digest, s.in_flight])), 'no session');
}

function renderPortals(portals, ms) {
  fill('#portals', portals.map(p => {
    const lbl = { portal: p.address + ':' + p.port };
    const v = n => (metric(ms, n, lbl)[0] || { value: 0 }).value;
    const st = el('span', p.alua, 'state ' + (p.alua.startsWith('active') ? 'good' : 'bad'));
    return row([p.address + ':' + p.port, p.port_group, st,
      v('kura_portal_connections'), v('kura_portal_login_failures_total'),
      v('kura_portal_digest_errors_total')]);
  }), 'no portal');
}

function renderAlerts(pools, arrays, portals, cluster) {
  const a = window.kuraCluster ? window.kuraCluster.alerts(cluster) : [];
  for (const r of arrays)
    if (r.state !== 'clean') a.push('Array ' + r.name + ' is ' + r.state +
      (r.rebuild && r.rebuild.running ? ' (rebuilding: ' + r.rebuild.pct + '%)' : ''));
  for (const p of pools) {
    if (p.state === 'failed') { a.push('Pool ' + p.name + ' failed'); continue; }
    if (p.low_water && p.chunks.free < p.low_water) a.push('Pool ' + p.name + ' is below its low-water mark');
    else if (p.chunks.total && p.chunks.used / p.chunks.total > 0.9) a.push('Pool ' + p.name + ' is more than 90% full');
  }
  for (const p of portals)
    if (!p.alua.startsWith('active')) a.push('Path down: portal ' + p.address + ':' + p.port + ' is ' + p.alua);
  const box = $('#alerts');
  box.replaceChildren(...a.map(t => el('div', t, 'alert')));
  if (!a.length) box.appendChild(el('div', 'No alerts: arrays clean, pools below 90 %, every path active.', 'ok'));
}

function renderTargets(targets) {
  fill('#targets', targets.map(t => row([t.iqn, t.luns, t.acl.length ? t.acl.join(', ') : 'everyone',
    t.chap ? 'required' : 'no'])), 'no target');
}

function options(sel, values) {
  for (const s of document.querySelectorAll(sel)) {
    const keep = s.value;
    s.replaceChildren(...values.map(v => el('option', v)));
    if (values.includes(keep)) s.value = keep;
  }
}

async function renderVolumes(pools) {
  const rows = [];
  for (const p of pools) {
    if (p.state === 'failed') continue;
    const vols = await apiOr('/api/volumes?pool=' + encodeURIComponent(p.name), []);
    for (const v of vols)
      rows.push(row([p.name, v.id, bytes(v.size), bytes(v.mapped_bytes), v.kind,
        v.origin === null ? '-' : v.origin,
        (v.exported || []).map(x => x.target + ' LUN ' + x.lun).join(', ') || '-']));
  }
  fill('#volumes', rows, 'no volume');
}

async function refresh() {
  const [luns, pools, arrays, sessions, portals, targets, text, hist, cluster] = await Promise.all([
    apiOr('/api/luns', []), apiOr('/api/pools', []), apiOr('/api/arrays', []),
    apiOr('/api/sessions', []), apiOr('/api/portals', []), apiOr('/api/targets', []),
    apiOr('/api/metrics', ''), apiOr('/api/history?since=' + S.since, null),
    S.cluster ? apiOr('/api/cluster', []) : []]);
  const ms = parseProm(text);
  if (hist) mergeHistory(hist);
  renderLuns(luns, ms); renderPools(pools); renderArrays(arrays);
  renderSessions(sessions); renderPortals(portals, ms); renderTargets(targets);
  S.last.cluster = cluster;
  if (window.kuraCluster) window.kuraCluster.render($('#cluster'), cluster);
  renderAlerts(pools, arrays, portals, cluster);
  options('.pool-select', pools.map(p => p.name));
  options('.target-select', targets.map(t => t.iqn));
  options('#group-select', [...new Set(portals.map(p => String(p.port_group)))]);
  await renderVolumes(pools);
  renderCharts();
  document.body.dataset.loaded = '1';
  return arrays.some(a => (a.rebuild && a.rebuild.running) || (a.resync && a.resync.running) ||
    (a.scrub && a.scrub.running));
}

// Refresh every 5 s, every second while background work runs on an array.
function loop(busy) {
  setTimeout(() => refresh().then(loop, () => loop(false)), busy ? BUSY_PERIOD_MS : PERIOD_MS);
}

function showResult(ok, text) {
  const r = $('#result');
  r.hidden = false;
  r.className = 'result ' + (ok ? 'good' : 'bad');
  r.textContent = text;
}

async function submitAction(ev) {
  ev.preventDefault();
  const f = ev.target;
  if (f.dataset.confirm && !window.confirm(f.dataset.confirm)) return;
  const body = new URLSearchParams(new FormData(f));
  body.set('action', f.dataset.action);
  body.set('csrf', S.csrf);
  const r = await fetch('/api/action', { method: 'POST', body: body, credentials: 'same-origin' });
  let j = {};
  try { j = await r.json(); } catch (e) { j = { error: r.statusText }; }
  showResult(r.ok && j.ok, r.ok && j.ok ? (j.output || 'done') : 'Refused: ' + (j.error || r.status));
  if (r.ok) f.reset();
  await refresh();
}

function showView() {
  const v = (location.hash || '#dashboard').slice(1);
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + v;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.dataset.view === v);
  renderCharts();
}

function renderCharts() {
  if (window.kuraCharts) window.kuraCharts.render($('#charts'), S.hist, S.interval, consoleNow);
}

async function start() {
  const s = await api('/api/session');
  S.csrf = s.csrf;
  S.cluster = s.cluster;
  $('#nav-cluster').hidden = !s.cluster;
  $('#who').textContent = s.user;
  for (const i of document.querySelectorAll('input.csrf')) i.value = s.csrf;
  for (const f of document.querySelectorAll('form.action')) f.addEventListener('submit', submitAction);
  window.addEventListener('hashchange', showView);
  showView();
  loop(await refresh());
}

document.addEventListener('DOMContentLoaded', () => { start().catch(e => showResult(false, e.message)); });
