/**
 * TLS 1.2 offers only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305): no CBC
 * suite (LUCKY13 and its padding-oracle kin), no CCM, no ARIA. The certificate is ECDSA, so the
 * suites tried are the ECDHE-ECDSA ones. TLS 1.3, whose suites are all AEAD,
 * is unchanged. Under Deno the server is rustls, which implements no CBC suite at all.
 */
import assert from 'node:assert/strict';
import { connect, type ConnectionOptions } from 'node:tls';
import { after, before, test } from 'node:test';
import { launchServer, RUNTIME, type LaunchedServer } from '../helpers/server.ts';

let server: LaunchedServer;
before(async () => {
  server = await launchServer();
});
after(async () => {
  await server.stop();
});

/** The suite and version the server agrees to, or the error code it refuses the handshake with. */
function handshake(options: ConnectionOptions): Promise<{ cipher: string; version: string } | { refused: string }> {
  const { hostname, port } = new URL(server.origin);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port), ca: server.ca, servername: 'localhost', ...options }, () => {
      resolve({ cipher: socket.getCipher().standardName, version: socket.getProtocol() ?? '' });
      socket.destroy();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ refused: error.code ?? error.message }));
  });
}

const TLS12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;

for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-CCM8', 'ECDHE-ECDSA-AES128-CCM', 'ECDHE-ECDSA-ARIA128-GCM-SHA256']) {
  test(`a TLS 1.2 client offering only ${cipher} is refused (${RUNTIME})`, async () => {
    const result = await handshake({ ...TLS12, ciphers: cipher });
    assert.ok('refused' in result, `the server agreed to ${JSON.stringify(result)}`);
  });
}

for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
  test(`a TLS 1.2 client offering only ${cipher} gets it (${RUNTIME})`, async () => {
    const result = await handshake({ ...TLS12, ciphers: cipher });
    assert.deepEqual(result, { cipher: cipherStandardName(cipher), version: 'TLSv1.2' });
  });
}

test(`a default client gets TLS 1.3 (${RUNTIME})`, async () => {
  const result = await handshake({});
  assert.ok('version' in result && result.version === 'TLSv1.3', JSON.stringify(result));
});

function cipherStandardName(openssl: string): string {
  return {
    'ECDHE-ECDSA-AES128-GCM-SHA256': 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384': 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305': 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  }[openssl] ?? openssl;
}
