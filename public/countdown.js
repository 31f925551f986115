// Counts down to the access token's expiry on /order. A file of its own, not an inline <script>:
// the Content-Security-Policy (script-src via default-src 'self') refuses inline script.
const expires = document.getElementById('access-expires');
const countdown = document.getElementById('access-countdown');

function tick() {
  const left = Math.round((Date.parse(expires.dateTime) - Date.now()) / 1000);
  if (left <= 0) {
    countdown.textContent = ': expired, the browser has dropped the cookie. Reload to go through /refresh';
    return;
  }
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, '0');
  countdown.textContent = `, in ${minutes}:${seconds}`;
  setTimeout(tick, 1000);
}

if (expires && countdown) tick();
