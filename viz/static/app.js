// app.js — what both pages share: calling the API, drawing a chart (or the message that
// says why it is empty), number formats and keeping the controls in the page's URL so a
// view can be bookmarked. Plain browser JavaScript; Plotly is the only library.
'use strict';

const IR = (() => {
  const colors = {
    recent: '#2563eb', historical: '#16a34a', difference: '#7c3aed',
    ink: '#1f2933', muted: '#5f6b7a', grid: '#e8edf2',
    cities: ['#0f4c81', '#e07b39', '#2a9d8f', '#c2185b', '#8d6e63', '#6a51a3', '#7b8794'],
  };

  // api GETs /api/<path>; empty parameters are left out. It rejects with the server's
  // own message ({"error": …}) when the answer is not 200.
  async function api(path, params = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== '' && v != null) q.set(k, v);
    }
    const res = await fetch(`/api/${path}?${q}`);
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
    return body;
  }

  const font = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
  const axis = { gridcolor: colors.grid, zeroline: false, automargin: true, linecolor: '#c5ced8' };

  function layoutWith(extra) {
    const base = {
      margin: { l: 50, r: 16, t: 8, b: 36 },
      font: { family: font, size: 12, color: colors.ink },
      paper_bgcolor: '#fff', plot_bgcolor: '#fff',
      hoverlabel: { font: { family: font } },
      legend,
      xaxis: { ...axis }, yaxis: { ...axis },
    };
    const out = { ...base, ...extra };
    out.xaxis = { ...base.xaxis, ...(extra.xaxis || {}) };
    out.yaxis = { ...base.yaxis, ...(extra.yaxis || {}) };
    return out;
  }

  // legend sits above the plot on the left, clear of Plotly's toolbar on the right.
  const legend = { orientation: 'h', x: 0, xanchor: 'left', y: 1.0, yanchor: 'bottom' };

  const plotConfig = { responsive: true, displaylogo: false, displayModeBar: 'hover', modeBarButtonsToRemove: ['lasso2d', 'select2d', 'autoScale2d'] };

  // draw plots traces in the chart element id — or, when message is set, shows the message
  // instead of an empty plot. data-state says which ("ready", "empty", "error") and data-rev
  // counts the draws, for whoever watches the page (the browser tests do).
  async function draw(id, traces, layout, message) {
    const div = document.getElementById(id);
    if (message) {
      show(div, message, 'empty');
      return;
    }
    if (div.dataset.state !== 'ready') div.textContent = '';
    div.classList.remove('empty', 'error');
    await Plotly.react(div, traces, layoutWith(layout || {}), plotConfig);
    div.dataset.state = 'ready';
    div.dataset.rev = (+div.dataset.rev || 0) + 1;
  }

  function show(div, message, state) {
    Plotly.purge(div);
    div.classList.remove('empty', 'error');
    div.classList.add('empty');
    if (state === 'error') div.classList.add('error');
    div.textContent = message;
    div.dataset.state = state;
    div.dataset.rev = (+div.dataset.rev || 0) + 1;
  }

  // fail shows an API error in place of chart id.
  function fail(id, err) {
    show(document.getElementById(id), `Could not load this chart: ${err.message}`, 'error');
  }

  // busy runs fn while counting it in <body data-busy>, so a watcher can tell when every
  // chart has been drawn after a change.
  let pending = 0;
  document.body.dataset.busy = '0';
  async function busy(fn) {
    pending++;
    document.body.dataset.busy = String(pending);
    try {
      await fn();
    } finally {
      pending--;
      document.body.dataset.busy = String(pending);
    }
  }

  // chart runs one chart's loader, turning a failure into a message in its place.
  async function chart(id, load) {
    try {
      await load();
    } catch (err) {
      fail(id, err);
    }
  }

  // main runs a page's setup under busy; a failure (the API is down) shows in the banner.
  function main(fn) {
    return busy(async () => {
      try {
        await fn();
      } catch (err) {
        banner(`The charts could not be loaded: ${err.message}`);
      }
    });
  }

  function banner(message) {
    const b = document.getElementById('banner');
    b.textContent = message;
    b.hidden = !message;
  }

  // The page's state lives in its query string.
  function readState(defaults) {
    const q = new URLSearchParams(location.search);
    const st = { ...defaults };
    for (const k of Object.keys(defaults)) if (q.has(k)) st[k] = q.get(k);
    return st;
  }

  function saveState(st) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(st)) if (v !== '' && v != null) q.set(k, v);
    const s = q.toString();
    history.replaceState(null, '', s ? `?${s}` : location.pathname);
  }

  function fillSelect(select, options, value) {
    select.replaceChildren(...options.map(([v, label]) => new Option(label, v)));
    if (options.some(([v]) => v === value)) select.value = value;
  }

  const numberFmt = new Intl.NumberFormat('en-US');
  const num = (n) => (n == null ? '–' : numberFmt.format(n));
  const dec = (n, d = 1) => (n == null ? '–' : n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
  const signed = (n, d = 1, unit = '') => (n == null ? '–' : `${n > 0 ? '+' : n < 0 ? '−' : '±'}${dec(Math.abs(n), d)}${unit}`);
  // hours shows a duration in hours, or in days past two days.
  const hours = (h) => (h == null ? '–' : Math.abs(h) < 48 ? `${dec(h, 1)} h` : `${dec(h / 24, 1)} d`);
  // hourTicks labels a log axis of hours in the units a reader thinks in, for data
  // between the smallest and largest of values: at most six ticks.
  const hourTickPairs = [[1 / 60, '1 min'], [5 / 60, '5 min'], [0.25, '15 min'], [0.5, '30 min'], [1, '1 h'], [3, '3 h'],
    [6, '6 h'], [12, '12 h'], [24, '1 d'], [72, '3 d'], [168, '1 wk'], [336, '2 wk'], [720, '30 d'], [2160, '90 d'],
    [8760, '1 yr'], [43800, '5 yr']];
  function hourTicks(values) {
    const v = values.filter((x) => x > 0);
    const lo = Math.min(...v) / 2, hi = Math.max(...v) * 2;
    let ticks = hourTickPairs.filter(([h]) => h >= lo && h <= hi);
    while (ticks.length > 6) ticks = ticks.filter((_, i) => i % 2 === 0);
    return { tickvals: ticks.map((p) => p[0]), ticktext: ticks.map((p) => p[1]) };
  }

  const short = (s, n = 38) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  const dayLabel = (iso) => new Date(`${iso}T00:00:00Z`).toLocaleDateString('en-US', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

  async function footer() {
    const c = await api('cities');
    if (c.published_at) {
      document.getElementById('footer').textContent =
        `Summaries last published ${new Date(c.published_at).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' })}.`;
    }
    return c;
  }

  return { colors, legend, hourTicks, api, draw, fail, busy, main, chart, banner, readState, saveState, fillSelect, num, dec, signed, hours, short, dayLabel, footer };
})();
