import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeHtml, html, SafeHtml } from '../../../lib/pages/html.ts';

describe('escapeHtml()', () => {
  const cases: [text: string, escaped: string][] = [
    ['&', '&amp;'],
    ['<', '&lt;'],
    ['>', '&gt;'],
    ['"', '&quot;'],
    ["'", '&#39;'],
    ['<script>alert("x")</script>', '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'],
    ['&amp;', '&amp;amp;'],
    ['plain text, café', 'plain text, café'],
  ];
  for (const [text, escaped] of cases) {
    test(`escapes ${JSON.stringify(text)} as ${JSON.stringify(escaped)}`, () => {
      assert.equal(escapeHtml(text), escaped);
    });
  }
});

describe('html``', () => {
  test('escapes every interpolated string', () => {
    const name = `<img src=x onerror="alert('x')">&`;
    const escaped = '&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;';
    assert.equal(html`<p title="${name}">${name}</p>`.toString(), `<p title="${escaped}">${escaped}</p>`);
  });

  test('passes nested html`` through unescaped', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${inner}</p>`.toString(), '<p><b>&lt;i&gt;</b></p>');
  });

  test('joins arrays, escaping strings and passing html`` through', () => {
    const items = ['<a>', 'b'].map((item) => html`<li>${item}</li>`);
    assert.equal(html`<ul>${items}</ul>`.toString(), '<ul><li>&lt;a&gt;</li><li>b</li></ul>');
    assert.equal(html`${['<', html`<br>`, ['&']]}`.toString(), '&lt;<br>&amp;');
  });

  const nothing: [description: string, value: null | undefined | false][] = [
    ['null', null],
    ['undefined', undefined],
    ['false', false],
  ];
  for (const [description, value] of nothing) {
    test(`renders ${description} as nothing`, () => {
      assert.equal(html`<p>${value}</p>`.toString(), '<p></p>');
    });
  }

  test('renders numbers, zero and true as text', () => {
    assert.equal(html`${0} ${42} ${true}`.toString(), '0 42 true');
  });

  test('returns SafeHtml whose value is the markup', () => {
    const page = html`<p>${'a'}</p>`;
    assert.ok(page instanceof SafeHtml);
    assert.equal(page.value, '<p>a</p>');
    assert.equal(`${page}`, '<p>a</p>');
  });
});
