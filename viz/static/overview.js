// overview.js — the overview page: map, top request types and resolution time of one city
// over a period; top types compared across up to three cities; monthly volume of all.
'use strict';

IR.main(async () => {
  const $ = (id) => document.getElementById(id);
  const { colors } = IR;
  const meta = await IR.footer();
  if (!meta.cities.length) {
    IR.banner(meta.message);
    for (const id of ['chart-map', 'chart-top', 'chart-resolution', 'chart-compare', 'chart-monthly']) await IR.draw(id, [], {}, meta.message);
    return;
  }
  const byId = Object.fromEntries(meta.cities.map((c) => [c.id, c]));
  // The page opens on the busiest city (the one in the URL if it names one), and compares
  // the three busiest.
  const busiest = IR.busiest(meta.cities);
  const st = IR.readState({ city: busiest[0], from: '', to: '', type: '', compare: busiest.slice(0, 3).join(',') });
  if (!byId[st.city]) st.city = busiest[0];

  IR.fillSelect($('city'), meta.cities.map((c) => [c.id, c.name]), st.city);
  const cmp = st.compare.split(',');
  ['cmp1', 'cmp2', 'cmp3'].forEach((id, i) => {
    IR.fillSelect($(id), [['', '—'], ...meta.cities.map((c) => [c.id, c.name])], byId[cmp[i]] ? cmp[i] : '');
  });

  const city = () => byId[$('city').value];
  const period = () => ({ from: $('from').value, to: $('to').value });

  function setRange(c, from, to) {
    for (const id of ['from', 'to']) {
      $(id).min = c.first;
      $(id).max = c.last;
    }
    $('from').value = from || c.first;
    $('to').value = to || c.last;
    $('range').textContent = `${c.name}: data from ${c.first} to ${c.last}, ${IR.num(c.requests)} requests${c.note ? ` (${c.note})` : ''}`;
  }

  async function loadTypes(keep) {
    const r = await IR.api('request-types', { city: city().id });
    const opts = r.types.slice(0, 300).map((t) => [t.value, `${IR.short(t.label, 48)} (${IR.num(t.requests)})`]);
    IR.fillSelect($('type'), [['', 'All types'], ...opts], keep);
  }

  function save() {
    const c = city();
    const p = period();
    IR.saveState({
      city: c.id, from: p.from === c.first ? '' : p.from, to: p.to === c.last ? '' : p.to,
      type: $('type').value, compare: ['cmp1', 'cmp2', 'cmp3'].map((id) => $(id).value).filter(Boolean).join(','),
    });
  }

  // The map: one square per 0.01° bin, colour on a log scale of its requests. Longitude is
  // scaled by cos(latitude) so the city keeps its shape; no tiles, so it works offline.
  async function drawMap() {
    const c = city();
    const params = { city: c.id, ...period(), type: $('type').value };
    IR.csv('chart-map', 'map', params);
    const r = await IR.api('map', params);
    if (r.message) return IR.draw('chart-map', [], {}, r.message);
    const lats = [...r.lat].sort((a, b) => a - b);
    const lat0 = lats[Math.floor(lats.length / 2)];
    const ratio = 1 / Math.cos((lat0 * Math.PI) / 180);
    const pad = r.bin_degrees;
    const x0 = Math.min(...r.lon) - pad, x1 = Math.max(...r.lon) + pad;
    const y0 = Math.min(...r.lat) - pad, y1 = Math.max(...r.lat) + pad;
    const div = $('chart-map');
    const logs = r.requests.map((n) => Math.log10(n));
    const top = Math.max(1, ...logs);
    const ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000].filter((t) => Math.log10(t) <= top + 1e-9);
    const trace = {
      type: 'scatter', mode: 'markers', x: r.lon, y: r.lat, customdata: r.requests,
      marker: {
        symbol: 'square', size: 6, color: logs, cmin: 0, cmax: top,
        colorscale: [[0, '#9ecae1'], [0.25, '#4292c6'], [0.5, '#fdae6b'], [0.75, '#e6550d'], [1, '#7f0000']],
        colorbar: { title: { text: 'requests', side: 'right' }, tickvals: ticks.map(Math.log10), ticktext: ticks.map(IR.num), thickness: 14 },
        line: { width: 0 },
      },
      hovertemplate: '<b>%{customdata:,} requests</b><br>%{y:.3f}°N, %{x:.3f}°<extra></extra>',
    };
    // A light outline of where the requests are (the hull of the bins holding 99 % of
    // them), under the squares: the map has no tiles to read them against.
    const outline = {
      type: 'scatter', mode: 'lines', name: 'outline', x: r.outline.lon, y: r.outline.lat,
      line: { color: 'rgba(15, 76, 129, 0.45)', width: 1.2 }, fill: 'toself', fillcolor: 'rgba(15, 76, 129, 0.05)',
      hoverinfo: 'skip', showlegend: false,
    };
    const type = r.type ? ` of type “${r.type}”` : '';
    $('bin-size').textContent = `${r.bin_degrees}°`;
    await IR.draw('chart-map', [outline, trace], {
      showlegend: false,
      margin: { l: 56, r: 10, t: 30, b: 40 },
      title: { text: `${IR.num(r.total)} located requests${type}, ${r.period.label}`, font: { size: 13 }, x: 0.01, y: 0.985 },
      plot_bgcolor: '#f3f5f8',
      xaxis: { title: { text: 'longitude' }, range: [x0, x1], showgrid: false },
      yaxis: { title: { text: 'latitude' }, range: [y0, y1], scaleanchor: 'x', scaleratio: ratio, showgrid: false },
    });
    await fitMarkers(div, r.bin_degrees);
    // Zooming or resizing changes the pixels a bin takes.
    div.removeAllListeners('plotly_relayout');
    div.on('plotly_relayout', () => fitMarkers(div, r.bin_degrees));
  }

  // fitMarkers sizes the map's squares to one bin in the pixels the axes got (known only
  // once drawn), by the smaller side so that neighbours do not overlap.
  async function fitMarkers(div, bin) {
    const fl = div._fullLayout;
    const i = (div.data || []).findIndex((t) => t.mode === 'markers');
    if (!fl || !fl.xaxis || !fl.xaxis._length || i < 0) return;
    const px = (ax) => (ax._length / Math.abs(ax.range[1] - ax.range[0])) * bin;
    const size = Math.max(2, Math.min(px(fl.xaxis), px(fl.yaxis)) * 0.92);
    if (Math.abs(size - div.data[i].marker.size) > 0.25) await Plotly.restyle(div, { 'marker.size': size }, [i]);
  }

  // categories lays out a horizontal bar chart's categories: each full label is a category
  // (two names cut alike stay apart), shown wrapped, with the left margin the lines need.
  function categories(id, labels) {
    const fit = IR.fitLabels(id, labels);
    return { margin: fit.margin, axis: { type: 'category', tickvals: labels, ticktext: fit.text, automargin: false } };
  }

  async function drawTop() {
    const params = { city: city().id, ...period(), n: 5 };
    IR.csv('chart-top', 'top-types', params);
    const r = await IR.api('top-types', params);
    $('top-sub').textContent = r.total ? `Share of all ${IR.num(r.total)} requests in ${city().name}, ${r.period.label}.` : 'Share of all requests in the period.';
    if (r.message) return IR.draw('chart-top', [], {}, r.message);
    const t = [...r.types].reverse();
    const cat = categories('chart-top', t.map((x) => x.label));
    return IR.draw('chart-top', [{
      type: 'bar', orientation: 'h', y: t.map((x) => x.label), x: t.map((x) => x.share * 100),
      customdata: t.map((x) => [x.label, x.requests]),
      text: t.map((x) => `${IR.dec(x.share * 100)}% · ${IR.num(x.requests)}`), textposition: 'auto',
      marker: { color: '#0f4c81' }, insidetextfont: { color: '#fff' },
      hovertemplate: '<b>%{customdata[0]}</b><br>%{customdata[1]:,} requests, %{x:.1f}%<extra></extra>',
    }], {
      margin: { l: cat.margin, r: 16, b: 36 },
      xaxis: { title: { text: '% of requests' }, rangemode: 'tozero' },
      yaxis: cat.axis,
      showlegend: false,
    });
  }

  async function drawResolution() {
    const params = { city: city().id, ...period(), n: 10 };
    IR.csv('chart-resolution', 'resolution', params);
    const r = await IR.api('resolution', params);
    if (r.message) return IR.draw('chart-resolution', [], {}, r.message);
    const a = [...r.agencies].reverse();
    const y = a.map((x) => x.label);
    const cat = categories('chart-resolution', y);
    const custom = a.map((x) => [x.label, x.requests, x.closed]);
    const bar = (name, key, color) => ({
      type: 'bar', orientation: 'h', name, y, x: a.map((x) => x[key]), customdata: custom, marker: { color },
      hovertemplate: `<b>%{customdata[0]}</b><br>${name}: %{x:.1f} h<br>%{customdata[1]:,} requests, %{customdata[2]:,} closed<extra></extra>`,
    });
    return IR.draw('chart-resolution', [bar('median', 'median_hours', '#0f4c81'), bar('p90', 'p90_hours', '#9fb8d0')], {
      barmode: 'group', bargap: 0.25,
      margin: { l: cat.margin, r: 16, b: 36 },
      xaxis: { type: 'log', title: { text: 'time to close (log scale)' }, ...IR.hourTicks(a.flatMap((x) => [x.median_hours, x.p90_hours])) },
      yaxis: cat.axis,
      legend: IR.legend,
    });
  }

  async function drawCompare() {
    const ids = ['cmp1', 'cmp2', 'cmp3'].map((id) => $(id).value).filter(Boolean);
    const unique = [...new Set(ids)];
    if (!unique.length) return IR.draw('chart-compare', [], {}, 'Choose up to three cities to compare.');
    const params = { cities: unique.join(','), n: 5 };
    IR.csv('chart-compare', 'compare', params);
    const r = await IR.api('compare', params);
    if (r.message) return IR.draw('chart-compare', [], {}, r.message);
    const measure = document.querySelector('input[name="cmp-measure"]:checked').value;
    const types = [...r.types].reverse();
    const cat = categories('chart-compare', types.map((t) => t.label));
    const traces = r.series.map((s, i) => {
      const vals = [...s[measure]].reverse();
      return {
        type: 'bar', orientation: 'h', name: `${s.name} (${IR.num(s.total)})`,
        y: types.map((t) => t.label), x: measure === 'shares' ? vals.map((v) => v * 100) : vals,
        customdata: types.map((t, j) => [t.label, [...s.requests].reverse()[j], [...s.shares].reverse()[j] * 100]),
        marker: { color: colors.cities[busiest.indexOf(s.city) % colors.cities.length] },
        hovertemplate: `<b>%{customdata[0]}</b><br>${s.name}: %{customdata[1]:,} requests, %{customdata[2]:.1f}%<extra></extra>`,
      };
    });
    return IR.draw('chart-compare', traces, {
      barmode: 'group', bargap: 0.2, bargroupgap: 0.05,
      margin: { l: cat.margin, r: 16, b: 40 },
      yaxis: cat.axis,
      xaxis: { title: { text: measure === 'shares' ? '% of the city’s requests (all time)' : 'requests (all time)' }, rangemode: 'tozero' },
      legend: IR.legend,
    });
  }

  async function drawMonthly() {
    IR.csv('chart-monthly', 'monthly');
    const r = await IR.api('monthly', {});
    if (r.message) return IR.draw('chart-monthly', [], {}, r.message);
    // Log scale: cities differ a hundredfold in volume. Months without rows are gaps.
    return IR.draw('chart-monthly', r.series.map((s) => ({
      type: 'scatter', mode: 'lines+markers', name: s.name, x: s.months, y: s.requests,
      line: { width: 1.6, color: colors.cities[busiest.indexOf(s.city) % colors.cities.length] },
      marker: { size: 3.5 },
      hovertemplate: `${s.name}: %{y:,}<extra></extra>`,
    })), {
      hovermode: 'x unified',
      margin: { l: 56, r: 16, b: 36 },
      xaxis: { type: 'date' },
      yaxis: { type: 'log', title: { text: 'requests per month (log scale)' } },
    });
  }

  // cityCharts redraws what depends on the city and the period.
  const cityCharts = () => Promise.all([
    IR.chart('chart-map', drawMap), IR.chart('chart-top', drawTop), IR.chart('chart-resolution', drawResolution),
  ]);

  setRange(city(), st.from, st.to);
  await loadTypes(st.type);
  await Promise.all([cityCharts(), IR.chart('chart-compare', drawCompare), IR.chart('chart-monthly', drawMonthly)]);

  $('city').addEventListener('change', () => IR.busy(async () => {
    setRange(city());
    await loadTypes('');
    save();
    await cityCharts();
  }));
  for (const id of ['from', 'to']) {
    $(id).addEventListener('change', () => IR.busy(async () => { save(); await cityCharts(); }));
  }
  $('whole').addEventListener('click', () => IR.busy(async () => { setRange(city()); save(); await cityCharts(); }));
  $('type').addEventListener('change', () => IR.busy(async () => { save(); await IR.chart('chart-map', drawMap); }));
  for (const id of ['cmp1', 'cmp2', 'cmp3']) {
    $(id).addEventListener('change', () => IR.busy(async () => { save(); await IR.chart('chart-compare', drawCompare); }));
  }
  for (const el of document.querySelectorAll('input[name="cmp-measure"]')) {
    el.addEventListener('change', () => IR.busy(() => IR.chart('chart-compare', drawCompare)));
  }
});
