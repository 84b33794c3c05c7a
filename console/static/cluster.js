// SPDX-License-Identifier: Apache-2.0
// kura console, cluster view: for each kura-lockd control socket given to
// kura-console (--lockd-socket), that host's view of the cluster from its
// "status --json" (GET /api/cluster): the hosts with their heartbeat state,
// incarnation and last heartbeat age, and the VM leases with their owner,
// lease version (lver) and state (running, migrating, stopped, failed).
// Rendered with textContent only; el / row come from app.js.
'use strict';

(function () {
  const GOOD = ['alive', 'running'];
  const BAD = ['dead', 'fenced', 'failed', 'unknown'];

  function badge(s) {
    return el('span', s, 'state ' + (GOOD.includes(s) ? 'good' : BAD.includes(s) ? 'bad' : 'neutral'));
  }

  function age(ms) {
    return ms < 10000 ? (ms / 1000).toFixed(1) + ' s ago' : Math.round(ms / 1000) + ' s ago';
  }

  function table(head, rows, empty) {
    const t = el('table');
    const tr = el('tr');
    for (const h of head) tr.appendChild(el('th', h));
    t.appendChild(el('thead')).appendChild(tr);
    const tb = t.appendChild(el('tbody'));
    for (const r of rows) tb.appendChild(r);
    if (!rows.length) {
      const td = el('td', empty, 'empty'); td.colSpan = head.length;
      tb.appendChild(el('tr')).appendChild(td);
    }
    return t;
  }

  // One socket's answer => {status} or {error}.
  function parse(v) {
    if (!v.ok) return { error: v.error };
    try { return { status: JSON.parse(v.status) }; } catch (e) { return { error: 'unreadable answer' }; }
  }

  function view(v) {
    const c = el('div', null, 'card cluster');
    const p = parse(v);
    const h = el('h2', p.status ? 'Cluster as host ' + p.status.host + ' sees it' : 'kura-lockd');
    h.appendChild(el('span', ' ' + v.socket, 'sub'));
    c.appendChild(h);
    if (p.error) { c.appendChild(el('div', v.socket + ': ' + p.error, 'alert')); return c; }
    const s = p.status;
    c.appendChild(el('h3', 'Hosts'));
    c.appendChild(table(['Host', 'Id', 'Heartbeat state', 'Incarnation', 'Last heartbeat', 'Drained'],
      s.hosts.map(x => row([x.name + (x.name === s.host ? ' (this host)' : ''), x.id, badge(x.state),
        x.incarnation, age(x.heartbeat_age_ms), x.drained ? 'yes' : 'no'])), 'no host'));
    c.appendChild(el('h3', 'VM leases'));
    c.appendChild(table(['VM', 'Owner', 'Lease version (lver)', 'State', 'Migration', 'HA', 'QEMU pid here'],
      s.vms.map(m => row([m.name, m.owner || '-', m.lver, badge(m.state),
        m.state === 'migrating' ? 'in progress' : '-', m.ha ? 'yes' : 'no', m.pid || '-'])), 'no VM'));
    return c;
  }

  function render(box, cluster) {
    if (!box) return;
    box.replaceChildren(...cluster.map(view));
    if (!cluster.length) box.appendChild(el('p', 'No kura-lockd socket given (kura-console --lockd-socket PATH).', 'hint'));
  }

  // Dashboard alerts: a silent kura-lockd, hosts fenced or dead, VMs failed
  // (each named once, whichever host reports it).
  function alerts(cluster) {
    const a = new Set();
    for (const v of cluster) {
      const p = parse(v);
      if (p.error) { a.add('Cluster: ' + v.socket + ': ' + p.error); continue; }
      for (const x of p.status.hosts)
        if (x.state === 'fenced' || x.state === 'dead') a.add('Cluster: host ' + x.name + ' is ' + x.state);
      for (const m of p.status.vms)
        if (m.state === 'failed') a.add('Cluster: VM ' + m.name + ' failed');
    }
    return [...a];
  }

  window.kuraCluster = { render: render, alerts: alerts };
})();
