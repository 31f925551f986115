/**
 * The signup page is a static file, `public/index.html`, served as it is at `GET /`. After a failed
 * sign-up the answer is that same text with the error and the typed username filled in, so the form's
 * HTML exists once and what a learner opens in `public/` is what the browser gets. The places filled are
 * found by their ids; a file that lacks one fails at start, not on the first failed sign-up.
 */
import { html, SafeHtml } from './html.ts';
import type { FormState } from './pages.ts';

const FORM_ERROR = '<p id="form-error" class="error" role="alert"></p>';
const FIELDS = ['username', 'password'] as const;

export class SignupPage {
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
    this.filled({ error: 'check', field: 'username', username: 'check' }); // every slot is there
  }

  /** The page after a failed sign-up: the message next to its field (or above the form), the name kept. */
  filled(state: FormState): SafeHtml {
    const formError = state.error !== undefined && state.field === undefined;
    let text = replaceOnce(this.#text, FORM_ERROR, html`<p id="form-error" class="error" role="alert">${formError ? state.error : ''}</p>`);
    for (const name of FIELDS) {
      const input = new RegExp(`<input id="${name}" ([^>]*?) aria-describedby="${name}-hint">\n`);
      const error = state.field === name ? state.error : undefined;
      // Read by a screen reader when the field gets focus: its own error, a form-wide one, then the hint.
      const described = [error !== undefined && `${name}-error`, formError && 'form-error', `${name}-hint`].filter(Boolean).join(' ');
      const value = name === 'username' ? state.username : undefined; // a password is never echoed back
      text = replaceOnce(text, input, (attributes: string) =>
        html`<input id="${name}" ${new SafeHtml(attributes)} aria-describedby="${described}"${error !== undefined ? html` aria-invalid="true"` : ''}${value ? html` value="${value}"` : ''}${error !== undefined ? html` autofocus` : ''}>
${error !== undefined ? html`<p id="${name}-error" class="error" role="alert">${error}</p>\n` : ''}`);
    }
    return new SafeHtml(text);
  }
}

function replaceOnce(text: string, slot: string | RegExp, filling: SafeHtml | ((group: string) => SafeHtml)): string {
  const pattern = typeof slot === 'string' ? new RegExp(slot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : new RegExp(slot.source, 'g');
  const matches = [...text.matchAll(pattern)];
  if (matches.length !== 1) throw new Error(`Cannot fill the signup page: ${matches.length} places match ${String(slot)}, expected 1`);
  const match = matches[0]!;
  const value = typeof filling === 'function' ? filling(match[1] ?? '').value : filling.value;
  return text.slice(0, match.index) + value + text.slice(match.index + match[0].length);
}
