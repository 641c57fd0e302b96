// Keeps an assessment through a lost connection. Without this script the form posts as any form
// does; with it, a submission that cannot reach the server is kept in this tab's sessionStorage
// (never beyond the signed-in session: a draft is tied to the session's CSRF token and removed at
// sign-out) and sent again, with the same idempotency key, when the connection returns, so that
// the retry can never store the assessment twice.
(function () {
  'use strict';
  var PREFIX = 'carepath-draft:';
  var RETRY_MS = 30000;

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function clearDrafts() {
    var s = storage();
    if (!s) { return; }
    for (var i = s.length - 1; i >= 0; i--) {
      var k = s.key(i);
      if (k && k.indexOf(PREFIX) === 0) { s.removeItem(k); }
    }
  }

  // Signing out ends the session the drafts belong to.
  document.querySelectorAll('form[data-clear-drafts]').forEach(function (f) {
    f.addEventListener('submit', clearDrafts);
  });

  var form = document.querySelector('form[data-offline-form]');
  var store = storage();
  if (!form || !store || !window.fetch || !window.URLSearchParams) { return; }
  var status = document.getElementById('offline-status');
  var csrf = form.elements.csrf_token ? form.elements.csrf_token.value : '';
  var draftKey = PREFIX + form.getAttribute('action');
  var pending = false; // answers failed to send and wait for the connection
  var timer = null;
  var sending = false;

  function say(text) {
    if (!status) { return; }
    status.textContent = text;
    status.hidden = !text;
  }

  function fields() {
    var out = [];
    new FormData(form).forEach(function (value, name) { out.push([name, String(value)]); });
    return out;
  }

  function readDraft() {
    try {
      var d = JSON.parse(store.getItem(draftKey) || 'null');
      if (d && d.csrf === csrf && Array.isArray(d.fields)) { return d; }
    } catch (e) { /* an unreadable draft is dropped below */ }
    store.removeItem(draftKey);
    return null;
  }

  function restore(d) {
    d.fields.forEach(function (pair) {
      var name = pair[0], value = pair[1];
      if (name === 'csrf_token') { return; }
      var el = form.elements[name];
      if (!el) { return; }
      if (!el.tagName) { // radios sharing a name
        Array.prototype.forEach.call(el, function (r) { r.checked = r.value === value; });
      } else if (el.type === 'radio' || el.type === 'checkbox') {
        el.checked = el.value === value;
      } else {
        el.value = value;
      }
    });
  }

  function send(pairs) {
    if (sending) { return; }
    sending = true;
    var body = new URLSearchParams();
    var key = '';
    pairs.forEach(function (p) {
      body.append(p[0], p[1]);
      if (p[0] === 'idempotency_key') { key = p[1]; }
    });
    var headers = {};
    if (key) { headers['Idempotency-Key'] = key; }
    window.fetch(form.getAttribute('action'), { method: 'POST', body: body, headers: headers, credentials: 'same-origin' })
      .then(function (resp) {
        // The server has answered: this page is done, and the next one loads. Sending stays
        // barred, so that a second press of the button cannot post this page's answers again
        // over the page that shows the answer.
        pending = false;
        window.clearInterval(timer);
        store.removeItem(draftKey);
        if (resp.ok && resp.redirected) {
          window.location.assign(resp.url);
          return;
        }
        // The server answered but did not accept the answers as they are: post the form the
        // ordinary way, as it stands now and with the same key, so that the page shows what to
        // put right.
        form.submit();
      })
      .catch(function () {
        sending = false;
        pending = true;
        store.setItem(draftKey, JSON.stringify({ csrf: csrf, fields: pairs, saved: Date.now() }));
        say('You are offline, or the connection dropped. Your answers have not been sent yet: they are kept on this device until you sign out, and will be sent as soon as the connection returns. Keep this page open.');
        window.clearInterval(timer);
        timer = window.setInterval(retry, RETRY_MS);
      });
  }

  function retry() {
    if (pending && navigator.onLine !== false) {
      say('Connection back: sending your answers now.');
      send(fields()); // the page as it stands, should the answers have been changed meanwhile
    }
  }

  // Enter on a radio button would send the whole form half filled in (implicit submission), as
  // happens when the error summary's link moves the focus to a question while the key is down;
  // the form has its own button for sending.
  form.addEventListener('keypress', function (event) {
    if (event.key === 'Enter' && event.target.type === 'radio') { event.preventDefault(); }
  });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    send(fields());
  });
  window.addEventListener('online', retry);

  var earlier = readDraft();
  if (earlier) {
    restore(earlier);
    if (navigator.onLine === false) {
      pending = true;
      say('Answers kept from earlier on this device have been put back. They have not been sent yet: they will be sent as soon as the connection returns.');
    } else {
      say('Answers kept from earlier on this device have been put back. They have not been sent yet: check them and send the assessment.');
    }
  }
}());
