import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LruMap } from '../../../lib/support/lru_map.ts';

test('keeps at most max entries, forgetting the least recently used: a read counts as a use', () => {
  const map = new LruMap<string, number>(2);
  map.set('a', 1);
  map.set('b', 2);
  assert.equal(map.get('a'), 1);
  map.set('c', 3); // forgets b, the least recently used
  assert.deepEqual([map.get('a'), map.get('b'), map.get('c')], [1, undefined, 3]);
  assert.equal(map.size, 2);
  map.set('a', 10); // a replaced value is not a second entry
  assert.deepEqual([map.size, map.weight, map.get('a')], [2, 2, 10]);
});

test('with weigh, max bounds the total weight: bytes of pages, whatever their number', () => {
  const map = new LruMap<string, string>(10, (key, value) => key.length + value.length);
  map.set('a', '1234'); // 5
  map.set('b', '1234'); // 10
  assert.deepEqual([map.size, map.weight], [2, 10]);
  map.set('c', '12345678'); // 9: both earlier entries must go to make room
  assert.deepEqual([map.size, map.weight, map.get('c')], [1, 9, '12345678']);
  map.set('c', '1'); // replaced: its old weight is given back
  assert.equal(map.weight, 2);
  map.delete('c');
  map.delete('c');
  assert.deepEqual([map.size, map.weight], [0, 0]);
});

test('an entry heavier than max on its own is not kept, and pushes nothing out; one of exactly max is kept alone', () => {
  const map = new LruMap<string, string>(10, (key, value) => key.length + value.length);
  map.set('full', '123456');
  assert.deepEqual([map.get('full'), map.weight], ['123456', 10]);
  map.set('a', '1');
  map.set('big', 'x'.repeat(100));
  assert.deepEqual([map.get('big'), map.get('a'), map.weight], [undefined, '1', 2]);
});
