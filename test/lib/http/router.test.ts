import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DomainError } from '../../../lib/errors.ts';
import { statusOf } from '../../../lib/http/error_reply.ts';
import { Router } from '../../../lib/http/router.ts';
import { answerTo } from '../../helpers/answer_to.ts';

/** A router whose handlers are just names, so a test can see which one matched. */
function exampleRouter(): Router<string> {
  return new Router<string>()
    .add('GET', '/', 'home')
    .add('GET', '/order', 'order page')
    .add('POST', '/signup', 'signup')
    .add('GET', '/login', 'login page')
    .add('POST', '/login', 'login');
}

function matchError(router: Router<string>, method: string, path: string): DomainError {
  try {
    router.match(method, path);
  } catch (error) {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    return error;
  }
  assert.fail(`${method} ${path} matched`);
}

describe('Router', () => {
  const matches: [method: string, path: string, handler: string][] = [
    ['GET', '/', 'home'],
    ['GET', '/order', 'order page'],
    ['POST', '/signup', 'signup'],
    ['GET', '/login', 'login page'],
    ['POST', '/login', 'login'],
    ['HEAD', '/order', 'order page'],
    ['HEAD', '/login', 'login page'],
  ];
  for (const [method, path, handler] of matches) {
    test(`match() finds ${method} ${path}`, () => {
      assert.equal(exampleRouter().match(method, path), handler);
    });
  }

  const unknownPaths = ['/order/', '/%6Frder', '/Order', '/order?x=1', '//order', '/order/..', '', 'order', '/nowhere'];
  for (const path of unknownPaths) {
    test(`match() answers 404 to ${JSON.stringify(path)}, which is not a registered path`, () => {
      const error = matchError(exampleRouter(), 'GET', path);
      assert.equal(statusOf(error), 404);
    });
  }

  const wrongMethods: [method: string, path: string, allow: string][] = [
    ['POST', '/order', 'GET, HEAD'],
    ['DELETE', '/', 'GET, HEAD'],
    ['GET', '/signup', 'POST'],
    ['HEAD', '/signup', 'POST'],
    ['PUT', '/login', 'GET, POST, HEAD'],
  ];
  for (const [method, path, allow] of wrongMethods) {
    test(`match() answers 405 with Allow: ${allow} to ${method} ${path}`, () => {
      const error = matchError(exampleRouter(), method, path);
      assert.equal(statusOf(error), 405);
      assert.equal(answerTo(error).headers['Allow'], allow);
    });
  }

  test('match() compares methods exactly, so "get" is not GET', () => {
    assert.equal(statusOf(matchError(exampleRouter(), 'get', '/order')), 405);
  });

  test('match() prefers an explicit HEAD route to the GET one', () => {
    const router = new Router<string>().add('GET', '/x', 'get').add('HEAD', '/x', 'head');
    assert.equal(router.match('HEAD', '/x'), 'head');
  });

  test('match() lists HEAD once in Allow when a HEAD route exists besides GET', () => {
    const router = new Router<string>().add('GET', '/x', 'get').add('HEAD', '/x', 'head');
    assert.equal(answerTo(matchError(router, 'POST', '/x')).headers['Allow'], 'GET, HEAD');
  });

  test('add() throws on a method and path registered twice', () => {
    const router = new Router<string>().add('GET', '/order', 'first');
    assert.throws(() => router.add('GET', '/order', 'second'), { message: 'Cannot add route: GET /order is already registered' });
    assert.equal(router.match('GET', '/order'), 'first');
  });

  test('has() is true only for registered paths', () => {
    const router = exampleRouter();
    assert.equal(router.has('/order'), true);
    assert.equal(router.has('/order/'), false);
  });

  test('routes() lists every (method, path) added, once, and no HEAD it only answers for a GET', () => {
    assert.deepEqual(
      [...exampleRouter().routes()].map(({ method, path }) => `${method} ${path}`),
      ['GET /', 'GET /order', 'POST /signup', 'GET /login', 'POST /login'],
    );
  });
});
