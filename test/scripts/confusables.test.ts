/**
 * The generated confusables table (`lib/accounts/confusables.ts`) against its source, Unicode's
 * confusables.txt as committed in `scripts/unicode/`: regenerated, it is the committed file byte for
 * byte, and every mapping a username can reach is in it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { skeleton } from '../../lib/accounts/credentials.ts';
import { CONFUSABLES_VERSION, PROTOTYPES } from '../../lib/accounts/confusables.ts';
import { SOURCE, TABLE, parseConfusables, reachable, tableModule } from '../../scripts/confusables.ts';

const source = parseConfusables(readFileSync(SOURCE, 'utf8'));

test('the source is confusables.txt Version 17.0.0, all of it read: 6,565 mappings', () => {
  assert.equal(source.version, '17.0.0');
  assert.equal(CONFUSABLES_VERSION, source.version);
  assert.equal(source.mappings.size, 6565);
  assert.equal(source.mappings.get('\u0430'), 'a', 'CYRILLIC SMALL LETTER A → LATIN SMALL LETTER A');
  assert.equal(source.mappings.get('m'), 'rn');
});

test('the committed table is exactly what the generator makes of the source', () => {
  assert.equal(readFileSync(TABLE, 'utf8'), tableModule(source));
});

test('every mapping of a character a username can reach is in the table, and skeleton() applies it', () => {
  const inTable = new Map(PROTOTYPES.flatMap(([prototype, sources]) => [...sources].map((char) => [char, prototype] as const)));
  let reached = 0;
  for (const [char, prototype] of source.mappings) {
    if (!reachable(char)) {
      assert.equal(inTable.has(char), false, `U+${char.codePointAt(0)!.toString(16)} cannot occur in a name, yet is in the table`);
      continue;
    }
    reached++;
    assert.equal(inTable.get(char), prototype, `U+${char.codePointAt(0)!.toString(16)}`);
    assert.equal(skeleton(char), prototype.normalize('NFD'));
  }
  assert.equal(inTable.size, reached);
});

test('the characters left out are those no username reaches: symbols, or changed by NFKC or NFD', () => {
  for (const [char, reason] of [
    ['\u2160', 'ROMAN NUMERAL ONE: NFKC makes it I'],
    ['\u00f6', 'ö: NFD makes it o and a diaeresis'],
    ['|', 'a symbol, which no name holds'],
  ] as const) {
    assert.ok(source.mappings.has(char), `confusables.txt maps ${char}`);
    assert.equal(reachable(char), false, reason);
  }
});
