// The status page: plain DOM and uPlot (loaded before this file as the global `uPlot`).
// Everything it shows comes from mqlite's own API on the same origin: nothing from a CDN.
(() => {
  const REFRESH_MS = 5000;
  /** Charts cover the last 6 h; the query layer picks raw readings or the 5m/1h rollups. */
  const CHART_RANGE_S = 6 * 3600;
  const CHART_STEP_S = 60;
  const $ = (id) => document.getElementById(id);
  /** Sparklines come from the 5 min rollups: a new point every 5 min, so they are fetched every minute. */
  const SPARK_REFRESH_MS = 60_000;
  const SVG = 'http://www.w3.org/2000/svg';
  /** Buckets (5 min) a sparkline's line may bridge: 30 min. */
  const SPARK_MAX_GAP = 6;
  const state = { prev: undefined, selected: undefined, charts: new Map(), sparks: new Map() };
  // For tests and curious operators: the uPlot instances of the selected device, by series.
  window.mqliteCharts = state.charts;

  async function api(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    const body = await r.json();
    if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
    return body.data;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  const num = (n, digits = 0) => n.toLocaleString(undefined, { maximumFractionDigits: digits });
  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${num(n, i === 0 ? 0 : 1)} ${units[i]}`;
  }
  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return new Date(ms).toLocaleString();
  }
  const value = (v) => (Number.isInteger(v) ? String(v) : num(v, 3));

  function renderStatus(s) {
    $('version').textContent = s.version;
    const r = s.readiness;
    const failing = Object.entries(r.checks)
      .filter(([, ok]) => !ok)
      .map(([k]) => k);
    const ready = $('ready');
    ready.textContent = r.ready ? 'ready' : `not ready: ${failing.join(', ')}`;
    ready.className = `badge ${r.ready ? 'ok' : 'bad'}`;
    const i = s.intake;
    const where =
      typeof i.broker === 'string' ? i.broker : i.broker ? `${i.broker.host}:${i.broker.port}` : '';
    $('intake').textContent = `${i.mode || ''} ${where}`;
    $('c-conn').textContent = r.checks.connected
      ? r.checks.subscribed
        ? 'connected'
        : 'connected, not subscribed'
      : 'disconnected';
    $('c-conn').style.color = r.checks.connected ? 'var(--ok)' : 'var(--bad)';
    const c = s.counters;
    const p = state.prev;
    if (p && s.now > p.now) {
      const dt = (s.now - p.now) / 1000;
      $('c-in').textContent = `${num((c.received - p.counters.received) / dt, 1)}/s`;
      $('c-out').textContent = `${num((c.committed - p.counters.committed) / dt, 1)}/s`;
    } else {
      $('c-in').textContent = '–/s';
      $('c-out').textContent = '–/s';
    }
    state.prev = s;
    $('c-in-total').textContent = `${num(c.received)} received`;
    $('c-out-total').textContent = `${num(c.committed)} committed`;
    $('c-queue').textContent = `${num(c.queueMessages)} / ${num(s.queueLimits.messages)}`;
    $('c-queue-bytes').textContent = `${bytes(c.queueBytes)} of ${bytes(s.queueLimits.bytes)}`;
    $('c-acks').textContent = num(c.heldAcks);
    $('c-db').textContent = bytes(s.db.bytes + s.db.walBytes);
    $('c-db-budget').textContent = `WAL ${bytes(s.db.walBytes)} · ${budget(s.db)}`;
    $('c-db-budget').className = s.db.budgetUnmet ? 'bad' : '';
    $('c-dead').textContent = num(c.deadLetters);
    $('c-dropped').textContent = `${num(c.dropped)} dropped · ${num(c.commitErrors)} commit errors`;
  }

  /** The retention budget: what the database may use now, and the settings that make it. */
  function budget(db) {
    const floor =
      db.minFree && 'bytes' in db.minFree
        ? db.minFree.bytes > 0
          ? `keep ${bytes(db.minFree.bytes)} free`
          : ''
        : db.minFree && db.minFree.percentOfVolume > 0
          ? `keep ${db.minFree.percentOfVolume}% free`
          : '';
    const rule = [db.maxBytes > 0 ? `max ${bytes(db.maxBytes)}` : '', floor].filter(Boolean).join(', ');
    if (db.budgetBytes === undefined || db.budgetBytes === null) return 'no size budget';
    const used = db.usedBytes === undefined || db.usedBytes === null ? '' : `${bytes(db.usedBytes)} used of `;
    return `${used}budget ${bytes(db.budgetBytes)}${rule ? ` (${rule})` : ''}${db.budgetUnmet ? ': over, nothing left to purge' : ''}`;
  }

  /** A series' last 6 h of 5 min averages as a line: ~72 points, no axes, scaled to its own range. */
  function sparkline(values) {
    const W = 72;
    const H = 18;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('width', String(W));
    svg.setAttribute('height', String(H));
    svg.setAttribute('aria-hidden', 'true');
    const ys = values.filter((v) => v !== null);
    if (ys.length === 0) return svg;
    const lo = Math.min(...ys);
    const span = Math.max(...ys) - lo;
    // A flat series (or a single point) sits in the middle, not on the floor.
    const y = (v) => (span === 0 ? H / 2 : H - 1 - ((v - lo) / span) * (H - 2));
    const dx = W / Math.max(1, values.length - 1);
    // Points are joined across a few empty buckets (a device reporting every 10 min fills every
    // other one); a longer silence stays a gap.
    let run = [];
    let prev = -1;
    const flush = () => {
      if (run.length === 0) return;
      const line = document.createElementNS(SVG, run.length === 1 ? 'circle' : 'polyline');
      if (run.length === 1) {
        line.setAttribute('cx', run[0][0]);
        line.setAttribute('cy', run[0][1]);
        line.setAttribute('r', '1.2');
      } else line.setAttribute('points', run.map((p) => p.join(',')).join(' '));
      svg.append(line);
      run = [];
    };
    values.forEach((v, i) => {
      if (v === null) return;
      if (prev >= 0 && i - prev > SPARK_MAX_GAP) flush();
      prev = i;
      run.push([(i * dx).toFixed(1), y(v).toFixed(1)]);
    });
    flush();
    return svg;
  }

  function renderDevices(d) {
    $('dev-count').textContent = d.truncated ? `(${d.devices.length} most recent)` : `(${d.devices.length})`;
    const body = $('devices').tBodies[0];
    body.replaceChildren(
      ...d.devices.map((dev) => {
        const chips = dev.series.map((s) => {
          const spark = state.sparks.get(`${dev.device}\u0000${s.metric}`);
          return el(
            'span',
            { class: 'chip', title: `at ${new Date(s.ts).toLocaleString()}`, 'data-metric': s.metric },
            `${s.metric} `,
            el('b', {}, value(s.value)),
            ...(spark ? [sparkline(spark)] : []),
          );
        });
        const row = el(
          'tr',
          { 'data-device': dev.device },
          el('td', {}, el('b', {}, dev.device || '(no device)')),
          el(
            'td',
            { title: new Date(dev.lastSeen).toLocaleString(), 'data-label': 'last seen' },
            ago(dev.lastSeen),
          ),
          el('td', { 'data-label': 'messages in 24 h' }, num(dev.messages24h)),
          el('td', {}, ...chips),
        );
        if (dev.device === state.selected) row.classList.add('selected');
        row.addEventListener('click', () => select(dev.device, true));
        return row;
      }),
    );
    if (d.devices.length === 0)
      body.append(el('tr', {}, el('td', { colspan: '4', class: 'empty' }, 'No readings stored yet.')));
    if (state.selected === undefined && d.devices.length > 0) void select(d.devices[0].device, false);
  }

  function renderDeadLetters(d) {
    const body = $('dead').tBodies[0];
    body.replaceChildren(
      ...d.deadLetters.map((x) =>
        el(
          'tr',
          {},
          el('td', { title: new Date(x.receivedAt).toLocaleString() }, ago(x.receivedAt)),
          el('td', {}, x.topic),
          el(
            'td',
            {},
            el('span', { class: 'reason' }, x.reason),
            x.detail ? el('div', { class: 'muted' }, x.detail) : '',
          ),
          el('td', { class: 'payload' }, `${x.payload} (${bytes(x.payloadBytes)})`),
        ),
      ),
    );
    if (d.deadLetters.length === 0)
      body.append(el('tr', {}, el('td', { colspan: '4', class: 'empty' }, 'None: every message decoded.')));
  }

  const selector = (device) => `{device="${device.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"}`;

  async function select(device, byClick) {
    state.selected = device;
    for (const tr of $('devices').tBodies[0].rows)
      tr.classList.toggle('selected', tr.dataset.device === device);
    $('detail').hidden = false;
    $('detail-name').textContent = device || '(no device)';
    await drawCharts(device);
    if (byClick) $('detail').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  async function drawCharts(device) {
    const end = Math.floor(Date.now() / 1000);
    const q = new URLSearchParams({
      query: selector(device),
      start: String(end - CHART_RANGE_S),
      end: String(end),
      step: String(CHART_STEP_S),
    });
    const data = await api(`/api/v1/query_range?${q}`);
    const start = end - CHART_RANGE_S;
    if (device !== state.selected) return;
    const box = $('charts');
    for (const u of state.charts.values()) u.destroy();
    state.charts.clear();
    box.replaceChildren();
    const series = data.result.slice().sort((a, b) => name(a).localeCompare(name(b)));
    for (const s of series) {
      const xs = s.values.map((v) => v[0]);
      const ys = s.values.map((v) => Number(v[1]));
      const wrap = el('div', { class: 'chart', 'data-series': name(s) }, el('h3', {}, name(s)));
      box.append(wrap);
      const width = Math.max(200, wrap.clientWidth - 12);
      const u = new uPlot(
        {
          width,
          height: 140,
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          // The whole window, even around a single reading: where it sits in time is the information.
          scales: { x: { time: true, range: () => [start, end] } },
          axes: [
            { size: 30, font: '11px system-ui' },
            { size: 50, font: '11px system-ui' },
          ],
          series: [
            {},
            {
              label: name(s),
              stroke: '#2563eb',
              width: 1.5,
              fill: 'rgba(37,99,235,0.08)',
              points: { show: xs.length < 3 },
            },
          ],
        },
        [xs, ys],
        wrap,
      );
      state.charts.set(name(s), u);
    }
    if (series.length === 0) box.append(el('p', { class: 'empty' }, 'No readings in the last 6 h.'));
  }

  const name = (s) => s.metric.mqlite_metric || s.metric.__name__;

  let chartsAt = 0;
  let sparksAt = 0;
  async function refresh() {
    try {
      const sparks =
        Date.now() - sparksAt > SPARK_REFRESH_MS
          ? api('/api/v1/mqlite/sparklines')
          : Promise.resolve(undefined);
      const [status, devices, dead, lines] = await Promise.all([
        api('/api/v1/mqlite/status'),
        api('/api/v1/mqlite/devices'),
        api('/api/v1/mqlite/dead_letters'),
        sparks,
      ]);
      if (lines) {
        sparksAt = Date.now();
        state.sparks = new Map(lines.series.map((l) => [`${l.device}\u0000${l.metric}`, l.values]));
      }
      renderStatus(status);
      renderDevices(devices);
      renderDeadLetters(dead);
      // Charts move slowly (a minute per step): redrawn every 30 s, not every refresh.
      if (state.selected !== undefined && Date.now() - chartsAt > 30_000) {
        chartsAt = Date.now();
        await drawCharts(state.selected);
      }
      $('offline').hidden = true;
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      $('offline').hidden = false;
      $('offline').title = String(err);
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }
  void refresh();
})();
