import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './flags.js';

/** PEM text for TLS to the broker: the CA that signed its certificate, and a client certificate and key. */
export interface TlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * Reads and checks the TLS files once, at start, so a wrong path or a wrong kind of file is a
 * usage error naming the file, not a connection that fails later over and over.
 */
export function readTlsFiles(caPath: string, certPath: string, keyPath: string): TlsMaterial | undefined {
  if ((certPath === '') !== (keyPath === '')) {
    throw new UsageError(
      certPath === ''
        ? `-tlsKeyPath=${keyPath} needs -tlsCertPath: give the client certificate that goes with the key`
        : `-tlsCertPath=${certPath} needs -tlsKeyPath: give the private key of the client certificate`,
    );
  }
  if (caPath === '' && certPath === '') return undefined;
  const tls: { ca?: string; cert?: string; key?: string } = {};
  if (caPath !== '') tls.ca = readCertificates('rootCAPath', caPath).pem;
  if (certPath !== '') {
    const { pem, first } = readCertificates('tlsCertPath', certPath);
    const key = readFileFor('tlsKeyPath', keyPath);
    let keyObject;
    try {
      keyObject = createPrivateKey(key);
    } catch {
      throw new UsageError(`-tlsKeyPath=${keyPath}: the file is not a PEM private key (-----BEGIN PRIVATE KEY-----)`);
    }
    if (!first.checkPrivateKey(keyObject)) {
      throw new UsageError(`-tlsKeyPath=${keyPath}: this key does not belong to the certificate in -tlsCertPath=${certPath}`);
    }
    tls.cert = pem;
    tls.key = key;
  }
  return tls;
}

/** Reads a file given by `flag`, with a usage error that says what is wrong with it. */
export function readFileFor(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT'
        ? 'the file does not exist'
        : code === 'EISDIR'
          ? 'this is a folder, not a file'
          : code === 'EACCES'
            ? 'the file cannot be read (permission denied)'
            : `the file cannot be read (${(err as Error).message})`;
    throw new UsageError(
      `-${flag}=${file}: ${what}${code === 'ENOENT' && !path.isAbsolute(file) ? ` (looked in ${path.resolve(file)})` : ''}`,
    );
  }
}

/** Reads a PEM file of one or more certificates; `first` is the first one. */
function readCertificates(flag: string, file: string): { pem: string; first: X509Certificate } {
  const pem = readFileFor(flag, file);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new UsageError(`-${flag}=${file}: the file is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)`);
  const certs = blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new UsageError(`-${flag}=${file}: the file holds a certificate that cannot be parsed (${(err as Error).message})`);
    }
  });
  return { pem, first: certs[0] as X509Certificate };
}

/** TLS of the TCP input: none, or a certificate and its key, with the CA of the client certificates it accepts. */
export function readTcpTls(
  certPath: string,
  keyPath: string,
  clientCaPath: string,
): { cert: string; key: string; clientCa?: string } | undefined {
  if (certPath === '' && keyPath === '' && clientCaPath === '') return undefined;
  if (certPath === '' || keyPath === '') {
    throw new UsageError('-tcpTLSCertPath and -tcpTLSKeyPath go together: give the listener certificate and its key');
  }
  const { pem, first } = readCertificates('tcpTLSCertPath', certPath);
  const key = readFileFor('tcpTLSKeyPath', keyPath);
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch {
    throw new UsageError(`-tcpTLSKeyPath=${keyPath}: the file is not a PEM private key (-----BEGIN PRIVATE KEY-----)`);
  }
  if (!first.checkPrivateKey(keyObject))
    throw new UsageError(`-tcpTLSKeyPath=${keyPath}: this key does not belong to the certificate in -tcpTLSCertPath=${certPath}`);
  return { cert: pem, key, ...(clientCaPath === '' ? {} : { clientCa: readCertificates('tcpTLSClientCAPath', clientCaPath).pem }) };
}

/** HTTPS of the web console and of exposeDataFolder: none, or a certificate and its key. */
export function readWebTls(certPath: string, keyPath: string): { cert: string; key: string } | undefined {
  if (certPath === '' && keyPath === '') return undefined;
  if (certPath === '' || keyPath === '') {
    throw new UsageError('-webTLSCertPath and -webTLSKeyPath go together: give the console certificate and its key');
  }
  const { pem, first } = readCertificates('webTLSCertPath', certPath);
  const key = readFileFor('webTLSKeyPath', keyPath);
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch {
    throw new UsageError(`-webTLSKeyPath=${keyPath}: the file is not a PEM private key (-----BEGIN PRIVATE KEY-----)`);
  }
  if (!first.checkPrivateKey(keyObject))
    throw new UsageError(`-webTLSKeyPath=${keyPath}: this key does not belong to the certificate in -webTLSCertPath=${certPath}`);
  return { cert: pem, key };
}
