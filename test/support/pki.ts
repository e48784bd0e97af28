import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { nkeys } from '@nats-io/transport-node';

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A throwaway CA (EC P-256, valid 2 days) in `dir`, as `<name>.pem` and `<name>.key`. */
export function makeCA(dir: string, name: string): CertFiles {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  return { cert, key };
}

/**
 * A certificate signed by `ca`: for a server (SAN IP:127.0.0.1 and DNS:localhost, the address the
 * tests connect to) or for a client (clientAuth, for brokers that verify client certificates).
 */
export function issueCert(dir: string, ca: CertFiles, name: string, use: 'server' | 'client'): CertFiles {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(
    ext,
    use === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n',
  );
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`],
    dir,
  );
  openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext],
    dir,
  );
  return { cert, key };
}

/** An nkey user (what `nk -gen user` makes): the seed file (mode 600) and the public key for the broker's config. */
export interface NkeyUser {
  readonly seedFile: string;
  readonly publicKey: string;
}

/** Makes an nkey user with @nats-io/nkeys createUser() and writes its seed to `<dir>/<name>.nk`. */
export function makeNkeyUser(dir: string, name: string): NkeyUser {
  const kp = nkeys.createUser();
  const seedFile = path.join(dir, `${name}.nk`);
  fs.writeFileSync(seedFile, new TextDecoder().decode(kp.getSeed()) + '\n', { mode: 0o600 });
  return { seedFile, publicKey: kp.getPublicKey() };
}
