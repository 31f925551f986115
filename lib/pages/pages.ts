/**
 * The HTML pages. Every value is escaped by the `html` tag; no inline script or style, so the strict
 * Content-Security-Policy holds. Errors are shown next to their field and announced to screen readers.
 */
import { html, type SafeHtml } from './html.ts';

function layout(title: string, main: SafeHtml, scripts: readonly string[] = []): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/style.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
${scripts.map((src) => html`<script src="${src}" defer></script>\n`)}</head>
<body>
<main>
${main}
</main>
</body>
</html>
`;
}

/** What a form shows after a failed POST: the message, the field it is about, the typed username. */
export interface FormState {
  error?: string | undefined;
  /** The field the error is about; without one, the error is about the whole form. */
  field?: string | undefined;
  /** A form-wide error that makes both fields suspect: a failed sign-in cannot say which one was wrong. */
  bothFieldsInvalid?: boolean | undefined;
  username?: string | undefined;
}

function summary(state: FormState): SafeHtml {
  // role="alert" makes screen readers announce the message as soon as the page shows it.
  return html`<p id="form-error" class="error" role="alert">${state.error && !state.field ? state.error : ''}</p>`;
}

function field(name: 'username' | 'password', label: string, state: FormState, attributes: SafeHtml, hint: string): SafeHtml {
  const error = state.field === name ? state.error : undefined;
  const formError = state.error !== undefined && state.field === undefined;
  // A screen reader reads these when the field gets focus: its own error first, then a form-wide one
  // (shown above the form), then the hint. An id is only listed when its element has text.
  const described = [error && `${name}-error`, formError && 'form-error', hint && `${name}-hint`].filter(Boolean).join(' ');
  const invalid = error !== undefined || (formError && state.bothFieldsInvalid === true);
  const value = name === 'username' ? state.username : undefined; // a password is never echoed back
  return html`<div class="field">
<label for="${name}">${label}</label>
<input id="${name}" name="${name}" ${attributes}${described ? html` aria-describedby="${described}"` : ''}${invalid ? html` aria-invalid="true"` : ''}${value ? html` value="${value}"` : ''}${error ? html` autofocus` : ''}>
${error ? html`<p id="${name}-error" class="error" role="alert">${error}</p>\n` : ''}${hint ? html`<p id="${name}-hint" class="hint">${hint}</p>\n` : ''}</div>`;
}

export function loginPage(state: FormState & { next: string }): SafeHtml {
  return layout('Sign in', html`<h1>Sign in</h1>
<form method="post" action="/login" novalidate>
${summary(state)}
<input type="hidden" name="next" value="${state.next}">
${field('username', 'Username', state, html`type="text" autocomplete="username" required autocapitalize="none" spellcheck="false"`, '')}
${field('password', 'Password', state, html`type="password" autocomplete="current-password" required`, '')}
<button type="submit">Sign in</button>
</form>
<p>New here? <a href="/">Create an account</a></p>`);
}

export interface OrderView {
  username: string;
  /** When the access token expires, ms since the epoch. */
  accessExpiresAt: number;
  /** The user's live sessions, oldest first. */
  sessions: readonly SessionView[];
  /** What the request carried, for the "What just happened" section. */
  explanation?: OrderExplanation;
}

/** One of the user's sessions, as /order lists it (times in ms since the epoch). */
export interface SessionView {
  startedAt: number;
  /** The last refresh; undefined when there has been none yet. */
  refreshedAt: number | undefined;
  /** The session of the request that opened the page. */
  current: boolean;
}

/** The request that opened /order, as far as it can be shown without showing a secret. */
export interface OrderExplanation {
  /** Cookie names in the `Cookie` header, in the order the browser sent them (values are never shown). */
  cookieNames: readonly string[];
  /** The access token's decoded header and claims; its signature is never passed here. */
  jwtHeader: Readonly<Record<string, unknown>>;
  jwtClaims: Readonly<Record<string, unknown>>;
  /** The attributes the server set the access cookie with, such as `HttpOnly` or `Max-Age=900`. */
  cookieAttributes: readonly string[];
}

/** `2026-11-27 09:15:00 UTC`, from ms since the epoch. */
function utc(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/** A JSON value as text, with `iat`, `exp` and `nbf` also shown as a date. */
function claimValue(name: string, value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return ['iat', 'exp', 'nbf'].includes(name) && typeof value === 'number' ? `${text} (${utc(value * 1000)})` : text;
}

function claimList(values: Readonly<Record<string, unknown>>): SafeHtml {
  return html`<dl class="claims">
${Object.entries(values).map(([name, value]) => html`<dt><code>${name}</code></dt><dd><code>${claimValue(name, value)}</code></dd>
`)}</dl>`;
}

function whatJustHappened(view: OrderView, explanation: OrderExplanation): SafeHtml {
  const cookieHeader = explanation.cookieNames.map((name) => `${name}=…`).join('; ');
  return html`<section class="explain" aria-labelledby="explain-title">
<h2 id="explain-title">What just happened</h2>
<h3>1. Your browser sent a cookie</h3>
<p>The request for this page carried this header (values masked):</p>
<pre><code>Cookie: ${cookieHeader}</code></pre>
<p>The browser stored <code>__Host-jwt</code> from a <code>Set-Cookie</code> on a 303 (the answer to signing up, signing
in or a refresh), and has sent it back on every request to this site since, this one included: same
origin, <code>Path=/</code> covers <code>/order</code>, and <code>SameSite=Lax</code> allows it on a top-level navigation. The refresh cookie is not in the list: its
<code>Path=/session</code> keeps it for the session's own requests (refresh and sign-out) only.</p>
<h3>2. The cookie holds a signed JWT</h3>
<p>Its header:</p>
${claimList(explanation.jwtHeader)}
<p>Its claims, which the server checked (signature, <code>iss</code>, <code>aud</code>, <code>exp</code>) before
showing you this page:</p>
${claimList(explanation.jwtClaims)}
<p>The third part, the signature, is not shown: it only proves that the server made this token.</p>
<h3>3. The cookie was set with these attributes</h3>
<ul class="attributes">
${explanation.cookieAttributes.map((attribute) => html`<li><code>${attribute}</code></li>
`)}</ul>
<p>A browser never sends attributes back, only <code>name=value</code>: these are what the server put on the cookie.</p>
<h3>4. When it ends</h3>
<p>The token expires at <time id="access-expires" datetime="${new Date(view.accessExpiresAt).toISOString()}">${utc(view.accessExpiresAt)}</time><span id="access-countdown" class="countdown"></span>.
Then the browser drops the cookie (its <code>Max-Age</code>), and the next visit here goes through
<code>/session/refresh</code> for a new one.</p>
</section>`;
}

export function orderPage(view: OrderView): SafeHtml {
  const expires = new Date(view.accessExpiresAt).toISOString();
  const main = html`<h1>Hello, <span class="username">${view.username}</span></h1>
<p>You are signed in. Your access token expires at <time datetime="${expires}">${expires.replace('T', ' ').slice(0, 19)} UTC</time>;
after that the browser drops the cookie and the next visit here refreshes it without asking you.</p>
<form method="post" action="/session/logout">
<button type="submit">Sign out</button>
</form>
${sessionList(view.sessions)}
${view.explanation && whatJustHappened(view, view.explanation)}`;
  // The countdown is a same-origin file: the CSP allows no inline script.
  return layout('Your order', main, view.explanation ? ['/countdown.js'] : []);
}

function sessionList(sessions: readonly SessionView[]): SafeHtml {
  return html`<section class="sessions" aria-labelledby="sessions-title">
<h2 id="sessions-title">Where you are signed in</h2>
<table>
<thead><tr><th scope="col">Signed in</th><th scope="col">Last refreshed</th><th scope="col"></th></tr></thead>
<tbody>
${sessions.map((session) => html`<tr${session.current ? html` class="current"` : ''}><td>${utc(session.startedAt)}</td><td>${session.refreshedAt === undefined ? 'not yet' : utc(session.refreshedAt)}</td><td>${session.current ? 'this browser' : ''}</td></tr>
`)}</tbody>
</table>
<form method="post" action="/session/logout-everywhere">
<button type="submit">Sign out everywhere</button>
</form>
</section>`;
}

/**
 * The step for a browser that arrived at the refresh from another site: a link the person follows, a
 * request that starts here and so carries the SameSite=Strict refresh cookie.
 */
export function continuePage(next: string): SafeHtml {
  return layout('Continue', html`<h1>Continue</h1>
<p>You came here from another site. To keep you signed in, continue from this one:</p>
<p><a href="/session/refresh?next=${encodeURIComponent(next)}">Continue to ${next}</a></p>`);
}

/** The 401 at the end of a failed refresh: the session is over, the way back is to sign in. */
export function signInAgainPage(message: string, next: string): SafeHtml {
  return layout('Please sign in', html`<h1>Please sign in</h1>
<p class="error" role="alert">${message}</p>
<p><a href="/login?next=${encodeURIComponent(next)}">Sign in</a> to continue.</p>
<p>New here? <a href="/">Create an account</a></p>`);
}

export function errorPage(status: number, title: string, message: string): SafeHtml {
  return layout(title, html`<h1>${status} ${title}</h1>
<p class="error" role="alert">${message}</p>
<p><a href="/">Back to the start</a></p>`);
}
