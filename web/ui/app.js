// The operator screen. The server pushes its state as Server-Sent Events
// (/events) on every change and every 2 s; without EventSource, or while the
// server refuses the stream (all its streams taken), the page polls /state.
// Whenever nothing arrives for a while the page says so, never keeps showing
// an old verdict as current, and reconnects by itself.
'use strict';
(function () {
  var QUIET_MS = 6000;  // no message this long: the connection is dead
  var POLL_MS = 1000;   // fallback polling period
  var VERDICTS = {
    green:  { vi: 'XANH', en: 'GREEN',  sym: '✓', d: 'M27 52 L43 68 L74 34' },
    yellow: { vi: 'VÀNG', en: 'YELLOW', sym: '!', d: 'M50 22 L50 58 M50 76 L50 76.5' },
    red:    { vi: 'ĐỎ',   en: 'RED',    sym: '✗', d: 'M32 32 L68 68 M68 32 L32 68' }
  };
  var IDLE = {
    ready:   { vi: 'SẴN SÀNG', en: 'READY' },
    stale:   { vi: 'DỮ LIỆU CŨ', en: 'STALE DATA' },
    fault:   { vi: 'LỖI CAMERA', en: 'CAMERA FAULT' },
    offline: { vi: 'MẤT KẾT NỐI', en: 'DISCONNECTED' },
    connecting: { vi: 'ĐANG KẾT NỐI', en: 'CONNECTING' }
  };

  var state = null;   // the newest state from the server
  var recvAt = 0;     // performance.now() when it arrived
  var es = null;      // the EventSource, when used
  var retry = 1000;   // reconnect delay, doubled up to 10 s
  var reconnectTimer = 0;
  var heardAt = 0;    // performance.now() of the newest stream message or connection attempt
  var polling = false; // polling /state instead of (or until) the stream
  var pollGen = 0;    // ends an old polling loop when polling restarts
  var body = document.body;

  function $(id) { return document.getElementById(id); }
  function text(id, s) { var e = $(id); if (e.textContent !== s) e.textContent = s; }
  function pad(n) { return (n < 10 ? '0' : '') + n; }

  // ago formats a duration in both languages.
  function ago(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' giây trước · ' + s + ' s ago';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' phút trước · ' + m + ' min ago';
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' giờ trước · ' + h + ' h ago';
    var d = Math.floor(h / 24);
    return d + ' ngày trước · ' + d + ' days ago';
  }
  function short(ms) {
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 172800) return Math.floor(s / 3600) + ' h';
    return Math.floor(s / 86400) + ' d';
  }

  function live() { return state !== null && performance.now() - recvAt < QUIET_MS; }

  function render() {
    var now = performance.now();
    var conn = live() ? 'live' : (state === null && body.dataset.conn === 'connecting' ? 'connecting' : 'offline');
    body.dataset.conn = conn;
    var v = conn === 'live' ? state.verdict : null;
    var age = v ? v.age_ms + (now - recvAt) : Infinity;
    if (v && age < state.hold_ms && VERDICTS[v.color]) {
      showVerdict(v, age);
    } else {
      showIdle(conn);
    }
    if (state) {
      text('gate', state.gate || '');
      $('preview-link').hidden = !state.preview;
      $('entry-open').hidden = !(conn === 'live' && state.csrf);
    }
  }

  // Code entry: the keypad types digits; OK sends them with the page's
  // CSRF token, and the verdict comes back (and on the stream).
  var MAX_CODE = 16, MIN_CODE = 4;
  var code = '';
  function showCode(hint, error) {
    text('entry-code', code);
    text('entry-hint', hint || 'Nhập mã · Enter code');
    $('entry').className = error ? 'error' : '';
    $('entry-ok').disabled = code.length < MIN_CODE;
  }
  function openEntry() { code = ''; $('entry').hidden = false; showCode(); }
  function closeEntry() { $('entry').hidden = true; code = ''; }
  function press(k) {
    if (/^[0-9]$/.test(k)) { if (code.length < MAX_CODE) code += k; }
    else if (k === 'back') code = code.slice(0, -1);
    else if (k === 'clear') code = '';
    else if (k === 'close') { closeEntry(); return; }
    else if (k === 'ok') { send(); return; }
    showCode();
  }
  function send() {
    if (code.length < MIN_CODE || !state || !state.csrf) return;
    var x = new XMLHttpRequest();
    x.open('POST', 'code');
    x.timeout = 10000;
    x.setRequestHeader('Content-Type', 'application/json');
    x.setRequestHeader('X-Checkpoint-CSRF', state.csrf);
    x.onload = function () {
      if (x.status !== 200) { showCode('Lỗi · Error ' + x.status, true); return; }
      var v;
      try { v = JSON.parse(x.responseText); } catch (e) { showCode('Lỗi · Error', true); return; }
      body.dataset.entered = v.color;
      closeEntry();
    };
    x.onerror = x.ontimeout = function () { showCode('Mất kết nối · No connection', true); };
    x.send(JSON.stringify({ code: code }));
  }
  $('entry-open').addEventListener('click', openEntry);
  $('keys').addEventListener('click', function (e) {
    var b = e.target.closest('button');
    if (b && !b.disabled) press(b.dataset.key);
  });
  document.addEventListener('keydown', function (e) {
    if ($('entry').hidden) return;
    var k = e.key;
    if (/^[0-9]$/.test(k)) press(k);
    else if (k === 'Backspace') press('back');
    else if (k === 'Escape') press('close');
    else if (k === 'Enter') press('ok');
    else return;
    e.preventDefault();
  });

  var IDENTITY = {
    'same person':      { vi: 'CÙNG NGƯỜI', en: 'SAME PERSON' },
    'different person': { vi: 'KHÁC NGƯỜI', en: 'DIFFERENT PERSON' }
  };

  function showVerdict(v, age) {
    var w = VERDICTS[v.color];
    body.className = v.color + (v.identity === 'different person' ? ' different' : '');
    body.dataset.color = v.color;
    body.dataset.verdict = String(v.id);
    $('verdict').hidden = false;
    $('idle').hidden = true;
    $('glyph').setAttribute('d', w.d);
    $('symbol').setAttribute('aria-label', w.sym + ' ' + w.en);
    text('symbol-text', w.sym);
    text('word-vi', w.vi);
    text('word-en', w.en);
    text('name', v.name || '');
    text('initials', v.name ? '' : (v.initials || ''));
    var birth = '';
    if (v.birth_day || v.birth_month) {
      birth = (v.birth_day ? pad(v.birth_day) : '**') + '/' + (v.birth_month ? pad(v.birth_month) : '**');
    }
    text('birth', birth);
    var id = IDENTITY[v.identity];
    $('identity').hidden = !id;
    text('identity-vi', id ? id.vi : '');
    text('identity-en', id ? id.en : '');
    var ul = $('reasons');
    var vi = v.reasons_vi || [];
    var key = (v.reasons || []).join('\n') + '\n' + vi.join('\n');
    if (ul.dataset.key !== key) {
      ul.dataset.key = key;
      ul.textContent = '';
      // Vietnamese first, the English beneath.
      (v.reasons || []).forEach(function (r, i) {
        var li = document.createElement('li');
        if (vi[i]) {
          var a = document.createElement('span');
          a.className = 'vi';
          a.textContent = vi[i];
          li.appendChild(a);
        }
        var b = document.createElement('span');
        b.className = 'en';
        b.textContent = r;
        li.appendChild(b);
        ul.appendChild(li);
      });
    }
    text('age', ago(age));
    summary();
  }

  function showIdle(conn) {
    var mode = conn === 'live' ? state.device.idle : conn;
    var t = IDLE[mode] || IDLE.ready;
    body.className = 'idle ' + mode;
    body.dataset.color = '';
    $('verdict').hidden = true;
    $('idle').hidden = false;
    text('idle-vi', t.vi);
    text('idle-en', t.en);
    if (conn !== 'live') {
      text('camera', '…');
      text('feed', '…');
      $('stale').hidden = true;
      text('summary', 'đang kết nối lại · reconnecting');
      return;
    }
    var d = state.device;
    var cam;
    if (d.camera === 'absent' || d.camera === 'none') cam = 'không có · none';
    else if (d.camera === 'paused') cam = 'chờ nút bấm · waiting for trigger';
    else if (d.camera === 'stalled') cam = 'KHÔNG CÓ HÌNH · NO FRAMES' + (d.frame_age_ms >= 0 ? ' (' + short(d.frame_age_ms) + ')' : '');
    else cam = 'OK' + (d.width ? ' · ' + d.width + '×' + d.height : '');
    text('camera', cam);
    var feed;
    if (!d.cache) feed = 'KHÔNG MỞ ĐƯỢC · CACHE NOT OPEN';
    else if (d.feed_age_ms < 0) feed = 'chưa đồng bộ · never synced';
    else feed = ago(d.feed_age_ms) + (d.version ? ' · v' + d.version : '');
    if (d.stick) feed += ' · ' + d.stick;
    if (d.firmware) feed += ' · ' + d.firmware;
    text('feed', feed);
    $('stale').hidden = !d.stale || mode === 'stale';
    var c = state.counts;
    $('counts').hidden = !c;
    if (c) {
      text('count-in', String(c.in));
      text('count-out', String(c.out));
      text('count-present', String(c.present));
    }
    summary();
  }

  function summary() {
    var d = state.device;
    var parts = ['camera ' + (d.camera === 'ok' ? 'OK' : d.camera)];
    if (d.feed_age_ms >= 0) parts.push('feed ' + short(d.feed_age_ms));
    if (d.stale) parts.push('STALE');
    text('summary', parts.join(' · '));
  }

  function onState(data) {
    var s;
    try { s = JSON.parse(data); } catch (e) { return; }
    if (state && state.boot !== s.boot) body.dataset.restarts = String((+body.dataset.restarts || 0) + 1);
    state = s;
    recvAt = performance.now();
    body.dataset.boot = s.boot;
    render();
  }

  function reconnect() {
    if (reconnectTimer) return;
    if (es) { es.close(); es = null; }
    reconnectTimer = setTimeout(function () { reconnectTimer = 0; connect(); }, retry);
    retry = Math.min(retry * 2, 10000);
  }

  function connect() {
    if (!window.EventSource) { startPolling(); return; }
    heardAt = performance.now();
    es = new EventSource('events');
    es.addEventListener('state', function (e) {
      heardAt = performance.now();
      retry = 1000;
      stopPolling();
      body.dataset.via = 'stream';
      onState(e.data);
    });
    es.onerror = function () {
      // The browser retries by itself after a dropped connection, but gives
      // up after an HTTP error, such as a refused stream (503: the server's
      // streams are all taken): poll /state meanwhile, and try the stream
      // again later.
      if (es && es.readyState === EventSource.CLOSED) {
        startPolling();
        reconnect();
      }
      render();
    };
  }

  function startPolling() {
    if (polling) return;
    polling = true;
    poll(++pollGen);
  }

  function stopPolling() { polling = false; }

  // poll asks for /state every POLL_MS while polling lasts.
  function poll(gen) {
    if (!polling || gen !== pollGen) return;
    var x = new XMLHttpRequest();
    x.open('GET', 'state');
    x.timeout = 5000;
    x.onload = function () {
      if (x.status !== 200 || !polling || gen !== pollGen) return;
      body.dataset.via = 'poll';
      onState(x.responseText);
    };
    x.onloadend = function () { setTimeout(function () { poll(gen); }, POLL_MS); render(); };
    x.send();
  }

  // The watchdog: the server sends at least every 2 s, so a quiet stream is
  // dead even if the socket looks open.
  setInterval(function () {
    if (es && performance.now() - heardAt > QUIET_MS) reconnect();
    render();
  }, 500);

  connect();
  render();
})();
