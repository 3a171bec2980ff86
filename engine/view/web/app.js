/* axle's campaign view: the live page of `axle serve` and the body of `axle report`.
 * Events (the log's, as JSON) are folded into per-experiment state; drawing happens once
 * per animation frame. Live: a WebSocket feed from seq N, applied strictly in seq order
 * (older seqs are duplicates and skipped, a newer one is a gap: reconnect from N).
 * Report: the same events, inline in window.AXLE_REPORT. Charts are hand-written canvas
 * (scatter, steps) and SVG (the Gantt chart, whose bars tests count). */
(function () {
  'use strict';
  var REPORT = window.AXLE_REPORT || null;
  var S = {
    exps: {}, order: [], cur: null, next: 1, last: 0, applied: 0, dups: 0, gaps: 0,
    connects: 0, msgs: [], arrive: [], ws: null, frame: 0, paint: [], lat: [], pendingLat: [], types: {},
    sort: { key: 'index', dir: 1 }, chartsAt: 0, live: !REPORT
  };
  window.axle = S; /* tests and the bench read the state from here */
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);

  function exp(name) {
    var e = S.exps[name];
    if (!e) {
      e = S.exps[name] = { name: name, config: null, trials: [], gens: [], tasks: {}, ntasks: 0,
        labware: null, started: null, stopped: null, spectra: {}, dirty: {}, ndirty: 0,
        rowsBuilt: false, t0: 0, created: 0 };
      S.order.push(name);
    }
    return e;
  }

  function objective(e) {
    var c = e.config || {};
    if (c.objective && c.objective.metric) return { metric: c.objective.metric, min: !!c.objective.minimize };
    if (Array.isArray(c.objectives) && c.objectives.length) {
      var o = c.objectives[0];
      return { metric: o.metric || o.name, min: !!o.minimize };
    }
    return { metric: null, min: false };
  }

  function mean(m) {
    if (m == null) return NaN;
    if (Array.isArray(m)) return m[0] == null ? NaN : +m[0];
    if (typeof m === 'object') return m.mean == null ? NaN : +m.mean;
    return +m;
  }

  function apply(ev) {
    S.types[ev.type] = (S.types[ev.type] || 0) + 1;
    if (!ev.experiment) return;
    var e = exp(ev.experiment), b = ev.body || {};
    switch (ev.type) {
      case 'experiment.created': e.config = b.config || null; e.created = ev.time; break;
      case 'experiment.started': e.started = b; e.stopped = null; break;
      case 'experiment.stopped': e.stopped = b; e.stoppedAt = ev.time; break;
      case 'generation.finished': b.time = ev.time; e.gens.push(b); break;
      case 'labware.updated': e.labware = b.labware || null; e.inflight = b.inflight || []; break;
      default:
        if (ev.type.lastIndexOf('trial.', 0) === 0 && ev.trial != null) {
          e.trials[ev.trial] = b;
          if (!e.dirty[ev.trial]) { e.dirty[ev.trial] = 1; e.ndirty++; }
          if (S.live && S.caughtUp) S.pendingLat.push([ev.experiment, ev.time]);
        } else if (ev.type.lastIndexOf('task.', 0) === 0 && b.id) {
          var t = e.tasks[b.id];
          if (!t) { t = e.tasks[b.id] = { worker: b.worker, task: b.task, trial: ev.trial, start: null, end: null, state: 'running' }; e.ntasks++; }
          var when = b.time || ev.time;
          if (ev.type === 'task.started') t.start = when;
          else if (ev.type === 'task.finished' || ev.type === 'task.failed') {
            t.end = when; t.state = ev.type === 'task.failed' ? 'failed' : 'done';
            if (t.start == null) t.start = when;
            var r = b.result;
            if (r && r.spectrum) e.spectra[ev.trial] = { path: r.spectrum, fit: r };
          }
          if (!e.t0 || t.start < e.t0) e.t0 = t.start;
        }
    }
  }

  /* ---- the feed ------------------------------------------------------------------ */
  /* A message covers seqs from..to; inside it a trial's superseded records are left
   * out (the last one carries the whole record). Covered ranges must join up: a message
   * starting past S.next is a gap (reconnect from S.next), one ending before it a
   * duplicate. */
  function take(msg) {
    var evs = msg.events || [];
    S.msgs.push([performance.now(), evs.length]);
    if (msg.from > S.next) { S.gaps++; if (S.ws) S.ws.close(); return; }
    if (msg.to < S.next) { S.dups += evs.length; return; }
    for (var i = 0; i < evs.length; i++) {
      var ev = evs[i];
      if (ev.seq < S.next) { S.dups++; continue; }
      apply(ev);
      S.applied++;
    }
    S.next = msg.to + 1;
    if (S.caughtUp && evs.length) S.arrive.push(Date.now() / 1000 - evs[evs.length - 1].time);
    if (msg.last > S.last) S.last = msg.last;
    /* From now on events arrive as they are committed: their latency is worth measuring. */
    if (S.next > msg.last) S.caughtUp = true;
    schedule();
  }

  function connect() {
    var proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
    var ws = new WebSocket(proto + location.host + '/feed?from=' + S.next);
    ws.binaryType = 'arraybuffer';
    S.ws = ws;
    S.connects++;
    ws.onopen = function () { S.openAt = performance.now(); setState('live', 'live'); schedule(); };
    ws.onmessage = function (m) {
      var t0 = performance.now();
      var txt = typeof m.data === 'string' ? m.data : new TextDecoder().decode(m.data);
      var msg = JSON.parse(txt);
      S.parseMs = (S.parseMs || 0) + performance.now() - t0;
      take(msg);
    };
    ws.onclose = function () {
      if (S.ws === ws) S.ws = null;
      setState('reconnecting', 'down');
      setTimeout(connect, 300);
    };
  }
  S.drop = function () { if (S.ws) S.ws.close(); }; /* tests: a dropped connection */

  function setState(text, cls) { var el = $('state'); el.textContent = text; el.className = 'pill ' + (cls || ''); }

  /* ---- drawing --------------------------------------------------------------------- */
  function schedule() { if (!S.frame) S.frame = requestAnimationFrame(render); }

  function fmt(x) {
    if (x == null || x !== x) return '';
    if (typeof x !== 'number') return String(x);
    var a = Math.abs(x);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(3);
    return String(+x.toPrecision(6));
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }

  function pickExperiment() {
    var want = params.get('exp') || (REPORT && REPORT.experiment);
    if (want && S.exps[want]) return S.exps[want];
    if (S.cur && S.exps[S.cur]) return S.exps[S.cur];
    var best = null;
    for (var i = 0; i < S.order.length; i++) {
      var e = S.exps[S.order[i]];
      if (!best || (e.started ? 1 : 0) >= (best.started ? 1 : 0)) best = e;
    }
    return best;
  }

  /* The engine's rule (trial_state.c): among completed trials whose objectives are all
   * measured and whose outcome constraints hold, the best first objective. Once the
   * campaign has stopped, its experiment.stopped names the best: that is shown. */
  function bestOf(e) {
    var o = objective(e), best = null;
    if (!o.metric) return null;
    if (e.stopped && e.stopped.best_trial != null && e.stopped.best_value != null)
      return { trial: +e.stopped.best_trial, value: +e.stopped.best_value };
    var objs = Array.isArray((e.config || {}).objectives) ? e.config.objectives : [];
    for (var i = 0; i < e.trials.length; i++) {
      var t = e.trials[i];
      if (!t || t.status !== 'COMPLETED' || !t.metrics) continue;
      var y = mean(t.metrics[o.metric]);
      if (y !== y || !feasible(e, t)) continue;
      if (objs.some(function (b) { var v = mean(t.metrics[b.metric || b.name]); return v !== v; })) continue;
      if (!best || (o.min ? y < best.value : y > best.value)) best = { trial: i, value: y };
    }
    return best;
  }

  function columns(e) {
    var ps = [], ms = [], seenP = {}, seenM = {};
    var sp = e.config && e.config.search_space && e.config.search_space.parameters;
    if (sp) sp.forEach(function (p) { if (!seenP[p.name]) { seenP[p.name] = 1; ps.push(p.name); } });
    var o = objective(e);
    if (o.metric) { seenM[o.metric] = 1; ms.push(o.metric); }
    for (var i = 0; i < e.trials.length; i++) {
      var t = e.trials[i]; if (!t) continue;
      for (var k in t.params) if (!seenP[k]) { seenP[k] = 1; ps.push(k); }
      for (var m in t.metrics) if (!seenM[m]) { seenM[m] = 1; ms.push(m); }
    }
    return { ps: ps, ms: ms };
  }

  function rowHtml(e, i, cols, best) {
    var t = e.trials[i], h = '<td>' + i + '</td><td class="s st">' + esc(t.status) + '</td><td class="s">' + esc(t.gen || '') + '</td>';
    cols.ps.forEach(function (p) { h += '<td>' + fmt(t.params ? t.params[p] : null) + '</td>'; });
    cols.ms.forEach(function (m) { h += '<td>' + fmt(mean(t.metrics ? t.metrics[m] : null)) + '</td>'; });
    h += '<td class="reason">' + (t.reason ? esc(t.reason) : '') + '</td>';
    return '<tr data-i="' + i + '" class="' + esc(t.status) + (best && best.trial === i ? ' isbest' : '') + '">' + h + '</tr>';
  }

  function sortValue(e, i, key) {
    var t = e.trials[i];
    if (key === 'index') return i;
    if (key === 'status') return t.status;
    if (key === 'gen') return t.gen || '';
    if (key === 'reason') return t.reason || '';
    if (key.lastIndexOf('p:', 0) === 0) return t.params ? +t.params[key.slice(2)] : NaN;
    if (key.lastIndexOf('m:', 0) === 0) return mean(t.metrics ? t.metrics[key.slice(2)] : null);
    return i;
  }

  function order(e) {
    var idx = [];
    for (var i = 0; i < e.trials.length; i++) if (e.trials[i]) idx.push(i);
    var k = S.sort.key, d = S.sort.dir;
    if (k !== 'index' || d !== 1) {
      idx.sort(function (a, b) {
        var x = sortValue(e, a, k), y = sortValue(e, b, k);
        var xn = typeof x === 'number' && x !== x, yn = typeof y === 'number' && y !== y;
        if (xn || yn) return xn - yn; /* missing values last */
        return (x < y ? -1 : x > y ? 1 : a - b) * d;
      });
    }
    return idx;
  }

  function drawTable(e, cols, best) {
    var tDraw = performance.now();
    var thead = $('trials').tHead, tbody = $('trials').tBodies[0];
    var key = cols.ps.join('\u0001') + '\u0002' + cols.ms.join('\u0001') + S.sort.key + S.sort.dir;
    var n = 0;
    for (var i = 0; i < e.trials.length; i++) if (e.trials[i]) n++;
    $('ntrials').textContent = '(' + n + ')';
    var rebuild = thead.dataset.key !== key || tbody.dataset.exp !== e.name || e.ndirty > 50 ||
      S.sort.key !== 'index' || S.sort.dir !== 1;
    if (thead.dataset.key !== key) {
      var hs = [['index', '#', ''], ['status', 'status', 's'], ['gen', 'method', 's']];
      cols.ps.forEach(function (p) { hs.push(['p:' + p, p, '']); });
      cols.ms.forEach(function (m) { hs.push(['m:' + m, m, '']); });
      hs.push(['reason', 'reason', 's']);
      thead.innerHTML = '<tr>' + hs.map(function (h) {
        var cls = h[2] + (S.sort.key === h[0] ? (S.sort.dir > 0 ? ' asc' : ' desc') : '');
        return '<th data-k="' + esc(h[0]) + '" class="' + cls + '">' + esc(h[1]) + '</th>';
      }).join('') + '</tr>';
      thead.dataset.key = key;
    }
    if (rebuild) {
      var ix = order(e), html = '';
      for (var j = 0; j < ix.length; j++) html += rowHtml(e, ix[j], cols, best);
      tbody.innerHTML = html;
      tbody.dataset.exp = e.name;
      e.rows = {};
      for (var r = tbody.firstChild; r; r = r.nextSibling) e.rows[r.dataset.i] = r;
    } else {
      for (var d in e.dirty) {
        var tmp = document.createElement('tbody');
        tmp.innerHTML = rowHtml(e, +d, cols, best);
        var row = tmp.firstChild, old = e.rows[d];
        if (old) tbody.replaceChild(row, old); else tbody.appendChild(row);
        e.rows[d] = row;
      }
    }
    var nb = best ? best.trial : -1;
    if (!rebuild && e.bestRow !== nb) { /* the highlight moves; no other row changes */
      if (e.rows[e.bestRow]) e.rows[e.bestRow].classList.remove('isbest');
      if (e.rows[nb]) e.rows[nb].classList.add('isbest');
    }
    e.bestRow = nb;
    e.dirty = {}; e.ndirty = 0;
    S.paint.push([performance.now(), tbody.rows.length, performance.now() - tDraw]);
  }

  function drawHeader(e, best) {
    var o = objective(e), b = $('best');
    if (best) {
      b.textContent = 'best ' + (o.metric || '') + ' = ' + fmt(best.value) + ' (trial ' + best.trial + ')';
      b.dataset.value = String(best.value);
      b.dataset.trial = String(best.trial);
    } else { b.textContent = ''; delete b.dataset.value; }
    var counts = {};
    e.trials.forEach(function (t) { if (t) counts[t.status] = (counts[t.status] || 0) + 1; });
    var state = e.stopped ? 'stopped: ' + (e.stopped.exit_status || '') : (e.started ? 'running' : 'created');
    var h = '<div>campaign<b>' + esc(e.name) + '</b></div><div>state<b id="exp-state">' + esc(state) + '</b></div>';
    ['COMPLETED', 'RUNNING', 'FAILED', 'ABANDONED', 'CANDIDATE', 'STAGED'].forEach(function (s) {
      if (counts[s]) h += '<div>' + s.toLowerCase() + '<b>' + counts[s] + '</b></div>';
    });
    if (e.stopped && e.stopped.reason) h += '<div>stop reason<b>' + esc(e.stopped.reason) + '</b></div>';
    if (e.stopped && e.stopped.model_best_trial != null) {
      h += '<div>model\'s best (GP mean)<b id="model-best">trial ' + e.stopped.model_best_trial + ': ' +
        fmt(e.stopped.model_best_mean) + ' \u00b1 ' + fmt(e.stopped.model_best_sd) + '</b></div>';
    }
    var objs = e.config && Array.isArray(e.config.objectives) ? e.config.objectives : null;
    if (objs && objs.length > 1) {
      h += '<div>objectives<b>' + objs.map(function (x) { return (x.minimize ? 'min ' : 'max ') + esc(x.metric || x.name); }).join(', ') + '</b></div>';
    } else if (o.metric) h += '<div>objective<b>' + (o.min ? 'minimize ' : 'maximize ') + esc(o.metric) + '</b></div>';
    $('summary').innerHTML = h;
    if (REPORT) setState('report', 'stopped');
    $('feed').textContent = REPORT ? 'seq ' + (S.next - 1) : 'seq ' + (S.next - 1) + ' of ' + S.last;
  }

  /* A small canvas plot: series of dots, lines or steps on linear axes. */
  function plot(cv, o) {
    var dpr = window.devicePixelRatio || 1, W = cv.clientWidth || 600, H = +cv.getAttribute('height');
    if (cv.width !== Math.round(W * dpr)) { cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr); cv.style.height = H + 'px'; }
    var g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    var L = 58, R = 12, T = 8, B = 30, x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    o.series.forEach(function (s) {
      var p = s.pts;
      for (var i = 0; i < p.length; i++) {
        var x = p[i][0], y = p[i][1];
        if (x === x && y === y && isFinite(x) && isFinite(y)) {
          if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
        }
      }
    });
    if (o.xr) { x0 = o.xr[0]; x1 = o.xr[1]; }
    g.font = '11px sans-serif'; g.fillStyle = '#6b7480'; g.strokeStyle = '#dde1e6';
    if (!(x0 <= x1)) { g.fillText('no data yet', L, T + 14); return; }
    if (x0 === x1) { x0 -= 1; x1 += 1; } if (y0 === y1) { y0 -= 1; y1 += 1; }
    var py = (y1 - y0) * 0.05; y0 -= py; y1 += py;
    var sx = function (x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    var sy = function (y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
    g.beginPath();
    ticks(x0, x1).forEach(function (t) { var X = sx(t); g.moveTo(X, T); g.lineTo(X, H - B); g.fillText(fmt(t), X - 10, H - B + 14); });
    ticks(y0, y1).forEach(function (t) { var Y = sy(t); g.moveTo(L, Y); g.lineTo(W - R, Y); g.fillText(fmt(t), 2, Y + 4); });
    g.stroke();
    if (o.xlabel) g.fillText(o.xlabel, W - R - g.measureText(o.xlabel).width, H - 4);
    if (o.ylabel) g.fillText(o.ylabel, L + 4, T + 10);
    o.series.forEach(function (s) {
      var p = s.pts; g.fillStyle = s.color; g.strokeStyle = s.color; g.lineWidth = s.width || 1.5;
      g.setLineDash(s.dash || []);
      if (s.type === 'dot') {
        var r = s.r || 3;
        for (var i = 0; i < p.length; i++) { g.beginPath(); g.arc(sx(p[i][0]), sy(p[i][1]), r, 0, 6.2832); g.fill(); }
      } else {
        g.beginPath();
        for (var j = 0, started = false; j < p.length; j++) {
          var X = sx(p[j][0]), Y = sy(p[j][1]);
          if (Y !== Y) continue;
          if (!started) { g.moveTo(X, Y); started = true; } else if (s.type === 'step') { g.lineTo(X, sy(p[j - 1][1])); g.lineTo(X, Y); } else g.lineTo(X, Y);
        }
        g.stroke();
      }
    });
    g.setLineDash([]);
    if (o.vline != null) { g.strokeStyle = '#c0392b'; g.beginPath(); g.moveTo(sx(o.vline), T); g.lineTo(sx(o.vline), H - B); g.stroke(); }
  }

  function ticks(a, b) {
    var span = b - a, step = Math.pow(10, Math.floor(Math.log10(span / 5))), out = [];
    [1, 2, 5, 10].some(function (m) { if (span / (step * m) <= 6) { step *= m; return true; } return false; });
    for (var t = Math.ceil(a / step) * step; t <= b + 1e-9 * span; t += step) out.push(+t.toPrecision(10));
    return out;
  }

  function genColor(gen) {
    if (!gen) return '#8a8f98';
    if (/sobol/i.test(gen)) return '#3b7dd8';
    if (/gp|logei|bo/i.test(gen)) return '#e07b24';
    return '#8a8f98';
  }

  function drawCharts(e) {
    var o = objective(e), m = o.metric;
    var groups = {}, bestPts = [], cur = null;
    for (var i = 0; i < e.trials.length; i++) {
      var t = e.trials[i];
      if (!t || t.status !== 'COMPLETED' || !t.metrics) continue;
      var y = mean(t.metrics[m]);
      if (y !== y) continue;
      var c = genColor(t.gen);
      (groups[c] = groups[c] || []).push([i, y]);
      if (cur === null || (o.min ? y < cur : y > cur)) cur = y;
      bestPts.push([i, cur]);
    }
    var series = [];
    for (var col in groups) series.push({ pts: groups[col], color: col, type: 'dot' });
    series.push({ pts: bestPts, color: '#1a9e55', type: 'step', width: 2 });
    plot($('trace'), { series: series, xlabel: 'trial', ylabel: m || '' });

    var cols = columns(e), box = $('slices');
    if (box.dataset.key !== cols.ps.join(',')) {
      box.innerHTML = cols.ps.map(function (p) { return '<figure><figcaption>' + esc(p) + '</figcaption><canvas height="180" data-p="' + esc(p) + '"></canvas></figure>'; }).join('');
      box.dataset.key = cols.ps.join(',');
    }
    Array.prototype.forEach.call(box.querySelectorAll('canvas'), function (cv) {
      var p = cv.dataset.p, gs = {};
      for (var i = 0; i < e.trials.length; i++) {
        var t = e.trials[i];
        if (!t || t.status !== 'COMPLETED' || !t.metrics || !t.params) continue;
        var x = +t.params[p], y = mean(t.metrics[m]);
        if (x === x && y === y) { var c = genColor(t.gen); (gs[c] = gs[c] || []).push([x, y]); }
      }
      var ss = []; for (var c in gs) ss.push({ pts: gs[c], color: c, type: 'dot', r: 2.5 });
      plot(cv, { series: ss, xlabel: p, ylabel: m || '' });
    });

    var fit = [], acq = [], acqv = [];
    e.gens.forEach(function (g, k) {
      fit.push([k + 1, +g.fit_ms || 0]); acq.push([k + 1, +g.acq_ms || 0]);
      var v = g.acq_value != null ? g.acq_value : g.acquisition_value;
      if (v != null) acqv.push([k + 1, +v]);
    });
    var ds = [{ pts: fit, color: '#7a4fd0', type: 'line' }, { pts: acq, color: '#d04f8a', type: 'line' },
      { pts: fit, color: '#7a4fd0', type: 'dot', r: 2 }, { pts: acq, color: '#d04f8a', type: 'dot', r: 2 }];
    plot($('diag'), { series: ds, xlabel: 'generation', ylabel: 'ms' });
    /* log values on their own axis: they are negative and unitless, not milliseconds */
    plot($('diag-acq'), { series: [{ pts: acqv, color: '#2aa3a3', type: 'line' },
      { pts: acqv, color: '#2aa3a3', type: 'dot', r: 2.5 }], xlabel: 'generation', ylabel: 'log acq' });
    drawPareto(e);
  }

  /* Outcome constraints as the experiment file writes them: "metric >= 1.61". */
  function feasible(e, t) {
    var cs = (e.config && e.config.outcome_constraints) || [];
    for (var i = 0; i < cs.length; i++) {
      var c = cs[i], m;
      if (c && typeof c === 'object') /* the object form: {metric, op, bound} */
        m = [null, c.metric, c.op === 'LEQ' ? '<=' : c.op === 'GEQ' ? '>=' : c.op, c.bound];
      else
        m = /^\s*([\w.-]+)\s*(<=|>=)\s*(-?[\d.eE+-]+)\s*$/.exec(String(c));
      if (!m || (m[2] !== '<=' && m[2] !== '>=')) continue;
      var y = mean(t.metrics ? t.metrics[m[1]] : null), v = +m[3];
      if (y !== y || (m[2] === '>=' ? y < v : y > v)) return false;
    }
    return true;
  }

  /* Two or more objectives: the first two against each other; the non-dominated points
   * among those meeting the outcome constraints as the front (as the engine's
   * experiment.stopped has it; the thresholds are the hypervolume's reference point). */
  function drawPareto(e) {
    var c = e.config || {}, objs = Array.isArray(c.objectives) ? c.objectives : null;
    $('pareto-card').hidden = !(objs && objs.length >= 2);
    if (!objs || objs.length < 2) return;
    var a = objs[0], b = objs[1], ma = a.metric || a.name, mb = b.metric || b.name;
    var sa = a.minimize ? -1 : 1, sb = b.minimize ? -1 : 1, ok = [], bad = [];
    e.trials.forEach(function (t, i) {
      if (t && t.status === 'COMPLETED' && t.metrics) {
        var x = mean(t.metrics[ma]), y = mean(t.metrics[mb]);
        if (x !== x || y !== y) return;
        (feasible(e, t) ? ok : bad).push([x, y, i]);
      }
    });
    var front = ok.filter(function (p) {
      return !ok.some(function (q) { return q !== p && sa * q[0] >= sa * p[0] && sb * q[1] >= sb * p[1] && (q[0] !== p[0] || q[1] !== p[1]); });
    }).sort(function (p, q) { return p[0] - q[0]; });
    var ref = [a.threshold, b.threshold];
    S.paretoTrials = front.map(function (p) { return p[2]; }).sort(function (p, q) { return p - q; });
    $('pareto-card').dataset.trials = S.paretoTrials.join(',');
    var hv = e.stopped && e.stopped.pareto;
    $('pareto-info').textContent = 'front: trials ' + S.paretoTrials.join(', ') +
      (hv && hv.hypervolume != null ? ' · hypervolume ' + fmt(hv.hypervolume) + ' (engine: trials ' + (hv.trials || []).join(', ') + ')' : '');
    plot($('pareto'), { series: [{ pts: bad, color: '#c9cdd3', type: 'dot' }, { pts: ok, color: '#8a8f98', type: 'dot' },
      { pts: front, color: '#1a9e55', type: 'step', width: 2 }, { pts: front, color: '#1a9e55', type: 'dot', r: 4 }],
      vline: ref[0] != null ? ref[0] : null,
      xlabel: ma + (a.minimize ? ' (min)' : ' (max)'), ylabel: mb + (b.minimize ? ' (min)' : ' (max)') });
  }

  function drawLab(e) {
    $('lab-card').hidden = e.ntasks === 0 && !e.labware;
    if (e.ntasks === 0 && !e.labware) return;
    var now = REPORT ? (e.stoppedAt || 0) : Date.now() / 1000, workers = [], wi = {}, t1 = e.t0;
    var ids = Object.keys(e.tasks);
    ids.forEach(function (id) {
      var t = e.tasks[id];
      if (!(t.worker in wi)) { wi[t.worker] = workers.length; workers.push(t.worker); }
      var end = t.end != null ? t.end : now;
      if (end > t1) t1 = end;
    });
    if (!REPORT && !e.stopped && now > t1) t1 = now;
    var W = $('gantt').clientWidth || 900, rowH = 22, L = 130, H = workers.length * rowH + 24;
    var span = Math.max(t1 - e.t0, 1e-3), sx = function (t) { return L + (t - e.t0) / span * (W - L - 10); };
    var h = '<svg viewBox="0 0 ' + W + ' ' + H + '" height="' + H + '">';
    workers.forEach(function (w, k) { h += '<text x="4" y="' + (k * rowH + 15) + '">' + esc(w) + '</text>'; });
    ids.forEach(function (id) {
      var t = e.tasks[id], y = wi[t.worker] * rowH + 3, x = sx(t.start), end = t.end != null ? t.end : now;
      var cls = t.state === 'done' ? 'bar done' : t.state === 'failed' ? 'bar failed' : 'bar running';
      h += '<rect class="' + cls + '" x="' + x.toFixed(1) + '" y="' + y + '" width="' + Math.max(sx(end) - x, 1).toFixed(1) +
        '" height="' + (rowH - 6) + '"><title>' + esc(t.task + ' · trial ' + t.trial + ' · ' + fmt(end - t.start) + ' s') + '</title></rect>';
    });
    if (!e.stopped || !REPORT) h += '<line class="now" x1="' + sx(Math.min(now, t1)) + '" x2="' + sx(Math.min(now, t1)) + '" y1="0" y2="' + (H - 20) + '"></line>';
    h += '<text x="' + L + '" y="' + (H - 4) + '">0 s</text><text x="' + (W - 80) + '" y="' + (H - 4) + '">' + fmt(span) + ' s</text></svg>';
    $('gantt').innerHTML = h;

    var lw = e.labware, lh = '';
    if (lw) {
      var meter = function (used, total) { var f = total > 0 ? Math.min(1, used / total) : 0; return '<span class="meter"><i style="width:' + (100 * f).toFixed(0) + '%"></i></span>'; };
      (lw.tipracks || []).forEach(function (r) { lh += '<tr><td class="s">tip rack slot ' + esc(r.deck_slot) + '</td><td>' + meter(r.tips_used, 96) + '</td><td>' + r.tips_used + ' of 96 tips used</td></tr>'; });
      (lw.trays || []).forEach(function (t) { var n = (t.loaded || []).length; lh += '<tr><td class="s">tray ' + esc(t.name) + '</td><td>' + meter(n, t.slots) + '</td><td>' + n + ' of ' + t.slots + ' slots loaded</td></tr>'; });
      var sol = lw.solutions || {};
      Object.keys(sol).forEach(function (k) { lh += '<tr><td class="s">solution ' + esc(k) + '</td><td></td><td>' + fmt(sol[k].volume_ul) + ' µL left</td></tr>'; });
      lh = '<table>' + lh + '</table>';
    }
    $('labware').innerHTML = lh;
    drawSpectrumList(e);
  }

  function drawSpectrumList(e) {
    var sel = $('sample'), keys = Object.keys(e.spectra).map(Number).sort(function (a, b) { return a - b; });
    if (sel.options.length !== keys.length) {
      var keep = sel.value;
      sel.innerHTML = keys.map(function (k) { return '<option value="' + k + '">sample ' + k + '</option>'; }).join('');
      sel.value = keep && e.spectra[keep] && !S.followLatest ? keep : String(keys[keys.length - 1]);
    }
    if (keys.length && sel.value !== S.shownSpectrum) showSpectrum(e, +sel.value);
  }

  function showSpectrum(e, k) {
    S.shownSpectrum = String(k);
    var sp = e.spectra[k]; if (!sp) return;
    var fit = sp.fit || {};
    $('fitinfo').textContent = 'fit: A = ' + fmt(fit.pl_intensity) + ' counts/s, peak ' + fmt(fit.pl_peak_nm) + ' nm (' + fmt(fit.pl_peak_ev) + ' eV), FWHM ' + fmt(fit.pl_fwhm_ev) + ' eV';
    var draw = function (wl, cps) {
      /* dark level as the fit subtracts it: the median below 650 nm (or the lowest decile) */
      var low = []; for (var i = 0; i < wl.length; i++) if (wl[i] < 650) low.push(cps[i]);
      if (!low.length) low = cps.slice().sort(function (a, b) { return a - b; }).slice(0, Math.max(1, cps.length / 10 | 0));
      low.sort(function (a, b) { return a - b; });
      var dark = low[low.length >> 1] || 0, meas = [], model = [];
      var A = +fit.pl_intensity, E0 = +fit.pl_peak_ev, s = (+fit.pl_fwhm_ev) / 2.3548;
      for (var j = 0; j < wl.length; j++) {
        meas.push([wl[j], cps[j]]);
        var E = 1240 / wl[j];
        if (A === A && s > 0) model.push([wl[j], dark + A * Math.exp(-(E - E0) * (E - E0) / (2 * s * s))]);
      }
      plot($('spectrum'), { series: [{ pts: meas, color: '#3b7dd8', type: 'line', width: 1 }, { pts: model, color: '#e07b24', type: 'line', width: 2, dash: [6, 4] }], xlabel: 'wavelength (nm)', ylabel: 'counts/s (measured, and the fitted Gaussian)' });
    };
    if (REPORT) {
      var r = REPORT.spectra && REPORT.spectra[k];
      if (r) draw(r.wl, r.cps); else plot($('spectrum'), { series: [] });
      return;
    }
    var at = sp.path.indexOf('data/' + e.name + '/');
    if (at < 0) return;
    fetch('data/' + sp.path.slice(at + 5).split('/').map(encodeURIComponent).join('/')).then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); }).then(function (txt) {
      var lines = txt.split('\n'), dw = lines[0].split(',').slice(1).map(Number), col = 0;
      for (var d = 0; d < dw.length; d++) if (dw[d] === +fit.pl_dwell_ms) col = d;
      var wl = [], cps = [];
      for (var i = 2; i < lines.length; i++) {
        var f = lines[i].split(','); if (f.length < 2) continue;
        var v = parseFloat(f[col + 1]);
        wl.push(+f[0]); cps.push(v === v ? v / (dw[col] / 1000) : NaN);
      }
      if (S.shownSpectrum === String(k)) draw(wl, cps);
    }).catch(function () { });
  }

  function render() {
    S.frame = 0;
    var sel = $('exp');
    if (sel.options.length !== S.order.length) {
      sel.innerHTML = S.order.map(function (n) { return '<option>' + esc(n) + '</option>'; }).join('');
    }
    var e = pickExperiment();
    if (!e) return;
    S.cur = e.name;
    if (sel.value !== e.name) sel.value = e.name;
    var cols = columns(e), best = bestOf(e);
    drawHeader(e, best);
    drawTable(e, cols, best);
    var now = performance.now();
    /* The table follows every event; the charts at most twice a second (redrawing every
     * canvas each frame would delay the rows behind them). */
    if (now - S.chartsAt >= 500) {
      S.chartsAt = now;
      drawCharts(e);
      drawLab(e);
    } else if (!S.chartTimer) {
      S.chartTimer = setTimeout(function () { S.chartTimer = 0; S.chartsAt = 0; schedule(); }, 500 - (now - S.chartsAt));
    }
    if (S.pendingLat.length) {
      var t = Date.now() / 1000;
      S.pendingLat.forEach(function (p) { if (p[0] === e.name) S.lat.push(t - p[1]); });
      S.pendingLat = [];
    }
    document.body.dataset.seq = String(S.next - 1);
    window.dispatchEvent(new Event('axle:render'));
  }

  $('exp').addEventListener('change', function () { S.cur = this.value; params.delete('exp'); var e = S.exps[S.cur]; if (e) e.ndirty = 1e9; $('trials').tBodies[0].dataset.exp = ''; S.shownSpectrum = null; schedule(); });
  $('sample').addEventListener('change', function () { var e = S.exps[S.cur]; if (e) showSpectrum(e, +this.value); });
  $('trials').tHead.addEventListener('click', function (ev) {
    var th = ev.target.closest('th'); if (!th) return;
    var k = th.dataset.k;
    S.sort = { key: k, dir: S.sort.key === k ? -S.sort.dir : (k === 'index' ? 1 : -1) };
    $('trials').tHead.dataset.key = '';
    schedule();
  });
  window.addEventListener('resize', function () { S.chartsAt = 0; schedule(); });

  if (REPORT) {
    S.live = false;
    /* A report keeps only the events that matter for the picture: seqs are not dense. */
    REPORT.events.forEach(function (ev) { apply(ev); S.applied++; S.next = ev.seq + 1; });
    S.last = S.next - 1;
    schedule();
  } else {
    connect();
  }
})();
