#!/usr/bin/env node
// Makes nkey users for steward nodes, as `nk -gen user -pubout` would (see docs/nats-server.md).
//
//   node scripts/gen-nkey.mjs                     prints one seed (SU...) and its public key (U...)
//   node scripts/gen-nkey.mjs central ship1 ...   writes ./<name>.nk (the seed, mode 600) and
//                                                 ./<name>.pub (its public key) for each node and
//                                                 prints "<name> <public key>" lines
//   --dir <folder>                                writes the seed files there instead of ./
//
// @nats-io/nkeys comes with steward's NATS client (@nats-io/transport-node re-exports it as
// `nkeys`); outside this repository `npm install @nats-io/nkeys` and use its createUser().
import fs from 'node:fs';
import path from 'node:path';
import { nkeys } from '@nats-io/transport-node';

const args = process.argv.slice(2);
let dir = '.';
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--dir') dir = args[++i] ?? '.';
  else if (args[i] === '-h' || args[i] === '--help') {
    process.stdout.write('usage: node scripts/gen-nkey.mjs [--dir <folder>] [node names...]\n');
    process.exit(0);
  } else names.push(args[i]);
}

const user = () => {
  const kp = nkeys.createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
};

if (names.length === 0) {
  const { seed, publicKey } = user();
  process.stdout.write(`seed:       ${seed}\npublic key: ${publicKey}\n`);
} else {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const file = path.join(dir, `${name}.nk`);
    if (fs.existsSync(file)) {
      process.stderr.write(`gen-nkey: ${file} exists; not overwriting a key in use\n`);
      process.exit(1);
    }
    const { seed, publicKey } = user();
    fs.writeFileSync(file, `${seed}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, `${name}.pub`), `${publicKey}\n`);
    process.stdout.write(`${name} ${publicKey}\n`);
  }
}
