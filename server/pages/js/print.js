// The letter's Print button: shown only where a script can run, since without one the browser's
// own Print does the same.
(function () {
  'use strict';
  document.querySelectorAll('[data-print]').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () { window.print(); });
  });
}());
