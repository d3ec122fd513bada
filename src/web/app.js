// The live view of downcase's sub: follows GET /stream (Server-Sent Events) and shows each log
// line. Text from the stream is only ever inserted with textContent, never parsed as HTML, and
// the page's Content-Security-Policy refuses inline and foreign scripts besides.
'use strict';

(function () {
  const MAX_LINES = 5000;     // older lines leave the page (the log file keeps them)
  const RATE_SECONDS = 60;    // sparkline width, one bar per second
  const log = document.getElementById('log');
  const state = document.getElementById('state');
  const filter = document.getElementById('filter');
  const counts = document.getElementById('counts');
  const rates = document.getElementById('rates');
  const resumeButton = document.getElementById('resume');

  let source = null;
  let lastId = '';             // the last PUBLISHER:SEQ shown, to resume from
  const lastSeq = new Map();   // publisher -> last seq shown: a resumed event is never shown twice
  const series = new Map();    // publisher -> {counts: [], canvas, value}
  let shown = 0;
  let follow = true;           // autoscroll: on while the newest line is in view

  function setState(name) {
    state.textContent = name;
    state.className = 'state ' + name;
  }

  function updateCounts() {
    counts.textContent = shown + ' lines';
  }

  function matchesFilter(row) {
    const f = filter.value.toLowerCase();
    return f === '' || row.textContent.toLowerCase().includes(f);
  }

  function add(kind, cells, meta) {
    const row = document.createElement('div');
    row.className = 'line ' + kind;
    for (const [cls, text] of cells) {
      const span = document.createElement('span');
      span.className = cls;
      span.textContent = text;
      row.appendChild(span);
    }
    for (const k in meta) {
      row.dataset[k] = meta[k];
    }
    row.hidden = !matchesFilter(row);
    log.appendChild(row);
    while (log.childElementCount > MAX_LINES) {
      log.firstElementChild.remove();
    }
    shown++;
    updateCounts();
    if (follow) {
      log.scrollTop = log.scrollHeight;
    }
  }

  function count(publisher) {
    let s = series.get(publisher);
    if (!s) {
      const box = document.createElement('div');
      box.className = 'rate';
      const name = document.createElement('span');
      name.textContent = publisher;
      const canvas = document.createElement('canvas');
      canvas.width = 120;
      canvas.height = 24;
      const value = document.createElement('span');
      value.className = 'value';
      box.append(name, canvas, value);
      rates.appendChild(box);
      s = {counts: new Array(RATE_SECONDS).fill(0), canvas: canvas, value: value};
      series.set(publisher, s);
    }
    s.counts[s.counts.length - 1]++;
  }

  function drawRates() {
    const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent');
    for (const s of series.values()) {
      const ctx = s.canvas.getContext('2d');
      const max = Math.max(1, ...s.counts);
      ctx.clearRect(0, 0, s.canvas.width, s.canvas.height);
      ctx.fillStyle = accent || '#2660a4';
      const w = s.canvas.width / RATE_SECONDS;
      s.counts.forEach((c, i) => {
        const h = Math.round((c / max) * (s.canvas.height - 2));
        ctx.fillRect(i * w, s.canvas.height - h, Math.max(1, w - 0.5), h);
      });
      s.value.textContent = s.counts[s.counts.length - 2] + '/s';
      s.counts.shift();
      s.counts.push(0);
    }
  }

  function onMessage(ev) {
    const d = JSON.parse(ev.data);
    if (d.publisher !== undefined) {
      const seen = lastSeq.get(d.publisher);
      if (seen !== undefined && d.seq <= seen) {
        return; // already shown before a reconnect
      }
      lastSeq.set(d.publisher, d.seq);
      lastId = d.publisher + ':' + d.seq;
    }
    const pub = d.publisher === undefined ? 'plain' : d.publisher;
    count(pub);
    const cells = [['time', d.time]];
    if (d.publisher !== undefined) {
      cells.push(['pub', d.publisher.slice(0, 8) + ':' + d.seq]);
    }
    cells.push(['msg', d.message]);
    const meta = d.publisher === undefined ? {} : {publisher: d.publisher, seq: String(d.seq)};
    add('message', cells, meta);
  }

  function onGap(ev) {
    const d = JSON.parse(ev.data);
    add('gap', [['time', d.time], ['msg', 'gap: ' + d.lost + ' messages of publisher ' +
      d.publisher + ' were lost']], {publisher: d.publisher});
  }

  function onDropped(ev) {
    const d = JSON.parse(ev.data);
    const whose = d.publisher ? ' of publisher ' + d.publisher : '';
    add('dropped', [['time', new Date().toISOString()], ['msg', d.dropped + ' events' + whose +
      ' not shown: this view fell behind or resumed from too far back']], {});
  }

  function connect() {
    // A new EventSource sends no Last-Event-ID header: the query carries it instead.
    const url = lastId ? 'stream?last_event_id=' + encodeURIComponent(lastId) : 'stream';
    source = new EventSource(url);
    setState('connecting');
    source.onopen = () => setState('live');
    source.onerror = () => {
      setState('reconnecting');
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an error status): try again ourselves.
        source.close();
        setTimeout(connect, 1000);
      }
    };
    source.onmessage = onMessage;
    source.addEventListener('gap', onGap);
    source.addEventListener('dropped', onDropped);
  }

  log.addEventListener('scroll', () => {
    follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    resumeButton.hidden = follow;
  });
  resumeButton.addEventListener('click', () => {
    follow = true;
    resumeButton.hidden = true;
    log.scrollTop = log.scrollHeight;
  });
  filter.addEventListener('input', () => {
    for (const row of log.children) {
      row.hidden = !matchesFilter(row);
    }
    if (follow) {
      log.scrollTop = log.scrollHeight;
    }
  });
  setInterval(drawRates, 1000);
  updateCounts();
  connect();
})();
