// review.js — the agency daily review: one city and agency (or all), the recent months
// against the months before them. Recent is blue, historical green, the difference purple.
'use strict';

IR.main(async () => {
  const $ = (id) => document.getElementById(id);
  const { colors } = IR;
  const charts = ['chart-daily', 'chart-heat-recent', 'chart-heat-historical', 'chart-heat-difference', 'chart-res'];
  const meta = await IR.footer();
  if (!meta.cities.length) {
    IR.banner(meta.message);
    for (const id of charts) await IR.draw(id, [], {}, meta.message);
    return;
  }
  const byId = Object.fromEntries(meta.cities.map((c) => [c.id, c]));
  // The busiest city, unless the URL names one.
  const busiest = IR.busiest(meta.cities)[0];
  const st = IR.readState({ city: busiest, agency: '', end: '', recent: '1', history: '12' });
  if (!byId[st.city]) st.city = busiest;
  IR.fillSelect($('city'), meta.cities.map((c) => [c.id, c.name]), st.city);
  $('recent').value = st.recent;
  $('history').value = st.history;

  const city = () => byId[$('city').value];

  function setEnd(c, end) {
    $('end').min = c.first;
    $('end').max = c.last;
    $('end').value = end || c.last;
  }

  async function loadAgencies(keep) {
    const r = await IR.api('agencies', { city: city().id });
    const opts = r.agencies.map((a) => [a.value, `${IR.short(a.label, 44)} (${IR.num(a.requests)})`]);
    IR.fillSelect($('agency'), [['', 'All agencies'], ...opts], keep);
  }

  function save() {
    const c = city();
    IR.saveState({
      city: c.id, agency: $('agency').value, end: $('end').value === c.last ? '' : $('end').value,
      recent: $('recent').value === '1' ? '' : $('recent').value, history: $('history').value === '12' ? '' : $('history').value,
    });
  }

  const span = (w) => {
    if (!w.days) return `no data in ${w.months.label}`;
    const missing = w.missing_days ? `, ${w.missing_days} more without data` : '';
    return `${IR.dayLabel(w.from)} – ${IR.dayLabel(w.to)} (${w.days} days${missing})`;
  };

  function kpis(r) {
    const rec = r.recent, hist = r.historical, d = r.difference;
    $('kpi-recent').textContent = IR.dec(rec.avg_per_day);
    $('kpi-recent-sub').textContent = `${IR.num(rec.requests)} requests · ${span(rec)}`;
    $('kpi-hist').textContent = IR.dec(hist.avg_per_day);
    $('kpi-hist-sub').textContent = `${IR.num(hist.requests)} requests · ${span(hist)}`;
    $('kpi-diff').textContent = IR.signed(d.avg_per_day, 1, ' /day');
    $('kpi-diff-sub').textContent = d.avg_pct == null ? 'no baseline to compare with' : `${IR.signed(d.avg_pct, 1, '%')} against the baseline`;
    $('kpi-res-recent').textContent = IR.hours(rec.median_hours);
    $('kpi-res-recent-sub').textContent = `p90 ${IR.hours(rec.p90_hours)} · ${rec.closed_pct == null ? '–' : IR.dec(rec.closed_pct)}% closed`;
    $('kpi-res-hist').textContent = IR.hours(hist.median_hours);
    $('kpi-res-hist-sub').textContent = `p90 ${IR.hours(hist.p90_hours)} · ${hist.closed_pct == null ? '–' : IR.dec(hist.closed_pct)}% closed`;
    $('kpi-res-diff').textContent = d.median_hours == null ? '–' : (d.median_hours > 0 ? '+' : d.median_hours < 0 ? '−' : '±') + IR.hours(Math.abs(d.median_hours));
    $('kpi-res-diff-sub').textContent = d.median_hours == null ? 'no resolution times to compare' : (d.median_hours > 0 ? 'slower than the baseline' : d.median_hours < 0 ? 'faster than the baseline' : 'as fast as the baseline');
    $('notes').replaceChildren(...r.notes.map((n) => Object.assign(document.createElement('li'), { textContent: n })));
  }

  // rolling is the trailing mean over the last n days of values; days without data (null)
  // are left out, and stay null.
  function rolling(values, n) {
    return values.map((v, i) => {
      if (v == null) return null;
      const win = values.slice(Math.max(0, i - n + 1), i + 1).filter((x) => x != null);
      return win.reduce((a, b) => a + b, 0) / win.length;
    });
  }

  // The daily chart: each day's count as a pale bar, a 7-day mean as a line (it runs on
  // from the historical days into the recent ones), and each window's average dashed.
  function drawDaily(r) {
    const d = r.daily;
    if (d.message) return IR.draw('chart-daily', [], {}, d.message);
    const days = [...d.historical.days, ...d.recent.days];
    const mean = rolling([...d.historical.opened, ...d.recent.opened], 7);
    const nh = d.historical.days.length;
    const traces = [];
    const windows = [['historical', d.historical, r.historical, mean.slice(0, nh)], ['recent', d.recent, r.recent, mean.slice(nh)]];
    for (const [name, s, w, m] of windows) {
      if (!s.days.length) continue;
      const color = colors[name];
      traces.push({
        type: 'bar', name: `${name}, per day`, x: s.days, y: s.opened, marker: { color, opacity: 0.35 },
        hovertemplate: `%{x|%a %d %b %Y}: %{y:,} requests<extra>${name}</extra>`,
      }, {
        type: 'scatter', mode: 'lines', name: `${name}, 7-day mean`, x: s.days, y: m, line: { color, width: 2.2 },
        hovertemplate: `%{x|%d %b %Y}: 7-day mean %{y:.1f}<extra>${name}</extra>`,
      });
      if (w.avg_per_day != null) {
        traces.push({
          type: 'scatter', mode: 'lines', name: `${name} average ${IR.dec(w.avg_per_day)}/day`,
          x: [s.days[0], s.days[s.days.length - 1]], y: [w.avg_per_day, w.avg_per_day],
          line: { color, width: 2, dash: 'dash' }, hoverinfo: 'skip',
        });
      }
    }
    return IR.draw('chart-daily', traces, {
      bargap: 0, hovermode: 'closest',
      margin: { l: 50, r: 16, b: 30 },
      xaxis: { type: 'date', range: [dayBefore(days[0]), `${days[days.length - 1]}T12:00`] },
      yaxis: { title: { text: 'requests opened' }, rangemode: 'tozero' },
    });
  }

  // dayBefore is the noon before an ISO day: the daily chart's bars are centred on their day.
  const dayBefore = (iso) => new Date(Date.parse(`${iso}T00:00:00Z`) - 12 * 3600e3).toISOString().slice(0, 16);

  const hours = [...Array(24).keys()];
  const blues = [[0, '#f7fbff'], [0.5, '#6baed6'], [1, '#08306b']];
  const greens = [[0, '#f7fcf5'], [0.5, '#74c476'], [1, '#00441b']];
  // Diverging around zero: purple where recent is above the baseline, orange below.
  const purples = [[0, '#b35806'], [0.25, '#f1a340'], [0.5, '#f7f7f7'], [0.75, '#998ec3'], [1, '#3f1d7a']];

  function heat(id, z, message, scale, r, diverging) {
    if (message || !z) return IR.draw(id, [], {}, message || 'no data');
    const flat = z.flat();
    const trace = {
      type: 'heatmap', z, x: hours, y: r.heat.weekdays, colorscale: scale, xgap: 1, ygap: 1,
      colorbar: { thickness: 10, title: { text: '/week', side: 'right' } },
      hovertemplate: `%{y} %{x}:00–%{x}:59<br>%{z:.2f} ${r.heat.unit}<extra></extra>`,
    };
    if (diverging) {
      const m = Math.max(1e-9, ...flat.map(Math.abs));
      Object.assign(trace, { zmid: 0, zmin: -m, zmax: m });
    } else {
      Object.assign(trace, { zmin: 0 });
    }
    return IR.draw(id, [trace], {
      margin: { l: 40, r: 8, b: 34 },
      xaxis: { title: { text: 'hour of day' }, dtick: 3, showgrid: false },
      yaxis: { autorange: 'reversed', showgrid: false },
    });
  }

  function drawResolution(r) {
    const s = r.resolution;
    if (s.message) return IR.draw('chart-res', [], {}, s.message);
    const pick = (w, key) => {
      const x = [], y = [];
      s.months.forEach((m, i) => { if (s.window[i] === w) { x.push(m); y.push(s[key][i]); } });
      return { x, y };
    };
    // An explicit width: Plotly would make a lone month's bar a hairline.
    const bar = (w, color) => ({
      type: 'bar', name: `${w} median`, ...pick(w, 'median_hours'), marker: { color }, width: 20 * 86400e3,
      hovertemplate: `%{x|%b %Y}: median %{y:.1f} h<extra>${w}</extra>`,
    });
    const p90 = (w, color) => ({
      type: 'scatter', mode: 'markers', name: `${w} p90`, ...pick(w, 'p90_hours'),
      marker: { color, symbol: 'line-ew-open', size: 18, line: { width: 3, color } },
      hovertemplate: `%{x|%b %Y}: p90 %{y:.1f} h<extra>${w}</extra>`,
    });
    const traces = [bar('historical', colors.historical), p90('historical', colors.historical), bar('recent', colors.recent), p90('recent', colors.recent)];
    return IR.draw('chart-res', traces, {
      barmode: 'overlay', bargap: 0.3,
      margin: { l: 56, r: 16, b: 30 },
      xaxis: { type: 'date', tickformat: '%b %Y' },
      yaxis: { type: 'log', title: { text: 'time to close (log scale)' }, ...IR.hourTicks([...s.median_hours, ...s.p90_hours].filter((x) => x != null)) },
      legend: IR.legend,
    });
  }

  // Each chart's CSV: the review endpoint with chart= the part it draws.
  const parts = {
    'chart-daily': 'daily', 'chart-heat-recent': 'heat-recent', 'chart-heat-historical': 'heat-historical',
    'chart-heat-difference': 'heat-difference', 'chart-res': 'resolution',
  };

  async function refresh() {
    let r;
    const params = {
      city: city().id, agency: $('agency').value, end: $('end').value, recent: $('recent').value, history: $('history').value,
    };
    for (const [id, part] of Object.entries(parts)) IR.csv(id, 'review', { ...params, chart: part });
    try {
      r = await IR.api('review', params);
    } catch (err) {
      for (const id of charts) IR.fail(id, err);
      return;
    }
    kpis(r);
    const h = r.heat;
    await Promise.all([
      IR.chart('chart-daily', () => drawDaily(r)),
      IR.chart('chart-heat-recent', () => heat('chart-heat-recent', h.recent, h.recent_message, blues, r)),
      IR.chart('chart-heat-historical', () => heat('chart-heat-historical', h.historical, h.historical_message, greens, r)),
      IR.chart('chart-heat-difference', () => heat('chart-heat-difference', h.difference, h.difference_message, purples, r, true)),
      IR.chart('chart-res', () => drawResolution(r)),
    ]);
  }

  setEnd(city(), st.end);
  await loadAgencies(st.agency);
  await refresh();

  $('city').addEventListener('change', () => IR.busy(async () => {
    setEnd(city());
    await loadAgencies('');
    save();
    await refresh();
  }));
  for (const id of ['agency', 'end', 'recent', 'history']) {
    $(id).addEventListener('change', () => IR.busy(async () => { save(); await refresh(); }));
  }
});
