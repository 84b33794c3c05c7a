// SPDX-License-Identifier: Apache-2.0
// kura console charts: the glue between the per-LUN history that
// kura-console keeps (GET /api/history, one point per sampling interval for
// the last hour) and uPlot (npm, compiled into kura-console with the page):
// three charts per LUN (IOPS, MiB/s, mean latency) over the last hour, a gap
// where the console had no rate (the target restarted or did not answer).
'use strict';

(function () {
  const FIGS = [['iops', 'IOPS', 0, '#0969da'], ['mibs', 'MiB/s', 1, '#1a7f37'],
    ['lat', 'mean latency (ms)', 3, '#bc4c00']];
  const HOUR_S = 3600;
  const plots = {}; // card id => [uPlot, uPlot, uPlot]

  // [t, iops, mibs, lat] with a null point inside every gap longer than
  // 2.5 sampling intervals, so that uPlot breaks the line there.
  function columns(h, interval) {
    const c = [[], [], [], []];
    for (let i = 0; i < h.t.length; i++) {
      if (i && h.t[i] - h.t[i - 1] > 2.5 * interval) {
        c[0].push(h.t[i - 1] + interval); c[1].push(null); c[2].push(null); c[3].push(null);
      }
      c[0].push(h.t[i]); c[1].push(h.iops[i]); c[2].push(h.mibs[i]); c[3].push(h.lat[i]);
    }
    return c;
  }

  // The x axis: the last hour, or from the first point (at least the last
  // minute) while the console has sampled less than an hour.
  function opts(label, digits, color, width, now) {
    return {
      width: width, height: 150, legend: { show: false },
      scales: { x: { time: true, range: (u, min) => [Math.max(now() - HOUR_S, Math.min(min, now() - 60)), now()] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      series: [{}, { label: label, stroke: color, width: 1.5, fill: color + '22',
        points: { show: false }, value: (u, v) => (v === null || v === undefined ? '–' : v.toFixed(digits)) }],
      axes: [{}, { size: 56, values: (u, vals) => vals.map(v => +v.toPrecision(3)) }],
    };
  }

  function latest(v, digits) {
    const x = v.length ? v[v.length - 1] : null;
    return x === null || x === undefined ? '–' : x.toFixed(digits) + ' now';
  }

  function card(box, k) {
    const id = 'chart-' + k.replace(/[^A-Za-z0-9]/g, '_');
    let c = document.getElementById(id);
    if (c) return c;
    c = document.createElement('div');
    c.id = id; c.className = 'card chart';
    const h = document.createElement('h2');
    const i = k.lastIndexOf('|');
    h.textContent = k.slice(0, i) + ' LUN ' + k.slice(i + 1);
    c.appendChild(h);
    for (const [key] of FIGS) {
      const f = document.createElement('figure');
      f.dataset.fig = key;
      f.appendChild(document.createElement('figcaption'));
      c.appendChild(f);
    }
    box.appendChild(c);
    return c;
  }

  function missing(box) {
    if (box.querySelector('.alert')) return;
    const m = document.createElement('div');
    m.className = 'alert';
    m.textContent = 'The chart library (uPlot) did not load: the charts cannot be drawn. ' +
      'kura-console embeds it at build time (console/package.json); rebuild it.';
    box.replaceChildren(m);
  }

  // hist: {"target|lun": {t, iops, mibs, lat}}; interval: seconds; now():
  // the console's clock (Unix seconds).
  function render(box, hist, interval, now) {
    if (!box || box.closest('.view').hidden) return;
    if (typeof window.uPlot !== 'function') { missing(box); return; }
    for (const k of Object.keys(hist).sort()) {
      const c = card(box, k);
      const data = columns(hist[k], interval);
      const have = plots[c.id];
      FIGS.forEach(([key, label, digits, color], i) => {
        const d = [data[0], data[i + 1]];
        const f = c.querySelector('figure[data-fig="' + key + '"]');
        const w = Math.max(200, f.clientWidth);
        f.firstChild.textContent = label + ': ' + latest(d[1], digits);
        if (have) { have[i].setSize({ width: w, height: 150 }); have[i].setData(d); return; }
        (plots[c.id] = plots[c.id] || [])[i] = new window.uPlot(opts(label, digits, color, w, now), d, f);
      });
      c.dataset.points = String(hist[k].t.length);
    }
  }

  window.kuraCharts = { render: render };
})();
