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

  // modeBarRoom is the strip at the top of every chart that Plotly's toolbar (the mode bar,
  // shown while the mouse is over the chart) has to itself: no plot, legend or colour bar
  // reaches into it, so the toolbar never hides a bar or a heat-map cell.
  const modeBarRoom = 30;

  function layoutWith(extra) {
    const base = {
      margin: { l: 50, r: 16, t: modeBarRoom, b: 36 },
      font: { family: font, size: 12, color: colors.ink },
      paper_bgcolor: '#fff', plot_bgcolor: '#fff',
      hoverlabel: { font: { family: font } },
      legend,
      xaxis: { ...axis }, yaxis: { ...axis },
    };
    const out = { ...base, ...extra };
    out.margin = { ...base.margin, ...(extra.margin || {}) };
    out.margin.t = Math.max(out.margin.t, modeBarRoom);
    for (const ax of ['xaxis', 'yaxis']) {
      out[ax] = { ...base[ax], ...(extra[ax] || {}) };
      // A log axis labels its minor ticks 2 and 5 by default, so that 2,000 reads "2":
      // SI prefixes make it "2k".
      if (out[ax].type === 'log' && !out[ax].tickvals && !out[ax].tickformat) out[ax].tickformat = '~s';
    }
    return out;
  }

  // legend sits under the plot, at the foot of the chart: the top strip is the toolbar's.
  const legend = { orientation: 'h', x: 0, xanchor: 'left', y: 0, yanchor: 'bottom', yref: 'container' };

  const plotConfig = {
    responsive: true, displaylogo: false, displayModeBar: 'hover',
    modeBarButtonsToRemove: ['lasso2d', 'select2d', 'autoScale2d', 'zoomIn2d', 'zoomOut2d'],
  };

  // draw plots traces in the chart element id — or, when message is set, shows the message
  // instead of an empty plot. data-state says which ("ready", "empty", "error") and data-rev
  // counts the draws, for whoever watches the page (the browser tests do).
  async function draw(id, traces, layout, message) {
    const div = document.getElementById(id);
    const link = csvLink(id);
    if (link) link.hidden = !!message;
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

  // csvLink is the "CSV" link of chart id: <a class="csv" data-chart="id">.
  const csvLink = (id) => document.querySelector(`a.csv[data-chart="${id}"]`);

  // csv points chart id's CSV link at the data it is drawn from: the API endpoint path with
  // params and format=csv (the server writes the rows, quoted and safe for spreadsheets).
  function csv(id, path, params = {}) {
    const link = csvLink(id);
    if (!link) return;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== '' && v != null) q.set(k, v);
    }
    q.set('format', 'csv');
    link.href = `/api/${path}?${q}`;
  }

  // fail shows an API error in place of chart id.
  function fail(id, err) {
    const link = csvLink(id);
    if (link) link.hidden = true;
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

  // Plotly reads tick labels as a little HTML: names from the data are shown as text.
  const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  // fitLabels lays out the category labels of a horizontal bar chart (agencies, request
  // types) in its left margin: each on one line when it fits in share of the chart's width,
  // else broken into two lines that do (at a space, or inside a first word too wide for a
  // line), the second cut short with "…" if it must.
  // It returns the tick texts and the margin, in pixels, that the widest line needs: the
  // labels are measured in the chart's font, not guessed from their length. The full name is
  // in each bar's tooltip and in the CSV.
  const measure = document.createElement('canvas').getContext('2d');
  function fitLabels(id, labels, share = 0.42) {
    measure.font = `12px ${font}`;
    const w = (s) => measure.measureText(s).width;
    const max = Math.max(60, (document.getElementById(id).clientWidth || 600) * share - 14);
    const cut = (s) => {
      if (w(s) <= max) return s;
      while (s.length > 1 && w(`${s}…`) > max) s = s.slice(0, -1);
      return `${s.trimEnd()}…`;
    };
    const lines = (label) => {
      if (w(label) <= max) return [label];
      const words = label.split(/\s+/);
      let first = '';
      let i = 0;
      for (; i < words.length; i++) {
        const next = first ? `${first} ${words[i]}` : words[i];
        if (w(next) > max) break;
        first = next;
      }
      if (!first) { // the first word alone is too wide: break it where the line ends
        let n = 1;
        while (n < label.length && w(label.slice(0, n + 1)) <= max) n++;
        return [label.slice(0, n), cut(label.slice(n))];
      }
      return [first, cut(words.slice(i).join(' '))];
    };
    const split = labels.map(lines);
    const widest = Math.max(0, ...split.flat().map(w));
    return { text: split.map((ls) => ls.map(escapeHTML).join('<br>')), margin: Math.ceil(widest + 14) };
  }

  async function footer() {
    const c = await api('cities');
    if (c.published_at) {
      document.getElementById('footer').textContent =
        `Summaries last published ${new Date(c.published_at).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' })}.`;
    }
    return c;
  }

  // busiest orders cities by requests, most first: the pages open on the first.
  const busiest = (cities) => [...cities].sort((a, b) => b.requests - a.requests || (a.id < b.id ? -1 : 1)).map((c) => c.id);

  return { colors, legend, hourTicks, api, draw, csv, fail, busy, main, chart, banner, readState, saveState, fillSelect, num, dec, signed, hours, short, fitLabels, busiest, dayLabel, footer };
})();
