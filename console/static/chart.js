// SPDX-License-Identifier: Apache-2.0
// kura console charts: one small canvas line chart per LUN and figure
// (IOPS, MiB/s, mean latency) over the last hour. Debian packages no chart
// library (no libjs-uplot), so this draws on a 2D canvas: the series, a
// zero baseline, the peak as the scale and the time axis in minutes.
'use strict';

(function () {
  const FIGS = [['iops', 'IOPS', v => v.toFixed(0)], ['mibs', 'MiB/s', v => v.toFixed(1)],
    ['latMs', 'latency (ms)', v => v.toFixed(2)]];
  const HOUR_MS = 3600 * 1000;

  function draw(cv, pts, key, fmt) {
    const dpr = window.devicePixelRatio || 1;
    const w = cv.clientWidth || 300, h = cv.clientHeight || 120;
    cv.width = w * dpr; cv.height = h * dpr;
    const g = cv.getContext('2d');
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    const L = 48, B = 18, T = 8, now = Date.now();
    const max = Math.max(1e-9, ...pts.map(p => p[key]));
    const x = t => L + (w - L - 6) * (1 - (now - t) / HOUR_MS);
    const y = v => T + (h - T - B) * (1 - v / max);
    g.strokeStyle = '#d0d7de'; g.lineWidth = 1;
    g.beginPath(); g.moveTo(L, y(0)); g.lineTo(w - 6, y(0)); g.moveTo(L, T); g.lineTo(L, y(0)); g.stroke();
    g.fillStyle = '#57606a'; g.font = '11px sans-serif';
    g.fillText(fmt(max), 2, T + 9); g.fillText('0', 2, y(0));
    g.fillText('-60 min', L, h - 4); g.fillText('now', w - 30, h - 4);
    if (!pts.length) { g.fillText('waiting for samples…', L + 10, h / 2); return; }
    g.strokeStyle = '#0969da'; g.lineWidth = 1.5;
    g.beginPath();
    pts.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p[key])) : g.moveTo(x(p.t), y(p[key]))));
    g.stroke();
    const last = pts[pts.length - 1];
    g.fillStyle = '#0969da';
    g.fillText(fmt(last[key]), w - 60, T + 9);
  }

  function card(box, k) {
    const id = 'chart-' + k.replace(/[^A-Za-z0-9]/g, '_');
    let c = document.getElementById(id);
    if (c) return c;
    c = document.createElement('div');
    c.id = id; c.className = 'card chart';
    const h = document.createElement('h2');
    const [t, l] = k.split('|');
    h.textContent = t + ' LUN ' + l;
    c.appendChild(h);
    for (const [key, label] of FIGS) {
      const f = document.createElement('figure');
      const cap = document.createElement('figcaption');
      cap.textContent = label;
      const cv = document.createElement('canvas');
      cv.dataset.fig = key;
      f.appendChild(cap); f.appendChild(cv); c.appendChild(f);
    }
    box.appendChild(c);
    return c;
  }

  function render(box, hist) {
    if (!box || box.closest('.view').hidden) return;
    for (const k of Object.keys(hist).sort()) {
      const c = card(box, k);
      for (const [key, , fmt] of FIGS) draw(c.querySelector('canvas[data-fig="' + key + '"]'), hist[k], key, fmt);
    }
  }

  window.kuraCharts = { render: render };
})();
