/**
 * The TLS certificate: the configured PEM files, or on first start a self-signed one for localhost.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readIfExists } from '../support/files.ts';
import type { Logger } from '../support/log.ts';
import { ConfigError } from '../errors.ts';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

/** The names a local browser, curl or test may use to reach the server. */
const LOCAL_NAMES = [
  { type: 2 as const, value: 'localhost' },
  { type: 7 as const, ip: '127.0.0.1' },
  { type: 7 as const, ip: '::1' },
];

const VALID_DAYS = 365;

/**
 * Reads the certificate and key, or creates both when both are missing. One without the other is a
 * mistake to fix, not something to paper over by replacing a certificate someone may already trust.
 */
export async function loadOrCreateCertificate(certFile: string, keyFile: string, log: Logger): Promise<TlsFiles> {
  const [cert, key] = await Promise.all([readTlsFile(certFile, 'TLS_CERT'), readTlsFile(keyFile, 'TLS_KEY')]);
  if (cert !== undefined && key !== undefined) {
    // Checked here, so that a wrong file is named in one line rather than failing deep in the TLS setup.
    parseOrRefuse(() => new X509Certificate(cert), `TLS_CERT (${certFile}) is not a certificate in PEM`);
    parseOrRefuse(() => createPrivateKey(key), `TLS_KEY (${keyFile}) is not a private key in PEM`);
    return { cert, key };
  }
  if (cert !== undefined || key !== undefined) {
    const missing = cert === undefined ? `TLS_CERT (${certFile})` : `TLS_KEY (${keyFile})`;
    throw new ConfigError(`Cannot start: ${missing} is missing while its partner exists; provide both, or remove both to generate a new pair`);
  }

  const created = await createSelfSigned();
  await mkdir(path.dirname(keyFile), { recursive: true });
  await mkdir(path.dirname(certFile), { recursive: true });
  await writeFile(keyFile, created.key, { mode: 0o600, flag: 'wx' }); // the private key: owner only
  await writeFile(certFile, created.cert, { mode: 0o644, flag: 'wx' });
  log.info(
    `Created a self-signed certificate for localhost, 127.0.0.1 and ::1, valid for ${VALID_DAYS} days:\n` +
      `  ${certFile}\n  ${keyFile} (private key, mode 0600)\n` +
      `Browsers warn until you trust it: see certs/README.md, or use curl --cacert ${path.relative(process.cwd(), certFile)}`,
  );
  return created;
}

/** An ECDSA P-256 key and a certificate that is its own CA, so clients can trust it directly. */
export async function createSelfSigned(): Promise<TlsFiles> {
  // Loaded only when a certificate must be made: `selfsigned` brings a whole X.509 and ASN.1 library
  // whose loading took about a quarter of the server's start-up CPU, on every start, to do nothing.
  const { generate } = await import('selfsigned');
  const notBeforeDate = new Date(Date.now() - 60_000); // a minute of slack for clocks that disagree
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + VALID_DAYS * 24 * 60 * 60 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: LOCAL_NAMES },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** The file's text; undefined when it does not exist; a one-line `ConfigError` when it cannot be read. */
async function readTlsFile(file: string, variable: string): Promise<string | undefined> {
  try {
    return await readIfExists(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Deno's own refusal (NotCapable) names the path and the flag already: left as it is.
    if (code === undefined) throw error;
    throw new ConfigError(`Cannot start: cannot read ${variable} (${file}): ${READ_FAILURES[code] ?? code}`);
  }
}

const READ_FAILURES: Readonly<Record<string, string>> = {
  EACCES: 'permission denied (EACCES); let the user the server runs as read it',
  EPERM: 'permission denied (EPERM); let the user the server runs as read it',
  EISDIR: 'it is a folder (EISDIR); point it at the PEM file',
};

function parseOrRefuse(parse: () => unknown, message: string): void {
  try {
    parse();
  } catch {
    throw new ConfigError(`Cannot start: ${message}`);
  }
}
