import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { Ack } from '../../src/message/ack.js';
import { newId } from '../../src/message/id.js';
import type { Message } from '../../src/message/message.js';
import { eventually } from './eventually.js';
import { NatsServer } from './nats-server.js';
import { RogueNode } from './rogue.js';
import { StewardProcess } from './steward.js';

/** The subject of ship1's commands, where most hostile payloads go. */
export const SUBJECT = 'ship1.REQCliCommand.CommandACK';

/** A well-formed wire message from central to ship1 (a command), with `over` applied. */
export function wireMessage(over: Partial<Message> = {}): Message {
  return {
    id: newId(),
    toNode: 'ship1',
    fromNode: 'central',
    method: 'REQCliCommand',
    methodArgs: ['echo', 'hostile'],
    replyMethod: 'REQToFileAppend',
    replyMethodArgs: [],
    isReply: false,
    data: [],
    ackTimeoutMs: 10_000,
    retries: 1,
    replyAckTimeoutMs: 0,
    replyRetries: 0,
    methodTimeoutMs: 10_000,
    replyMethodTimeoutMs: 0,
    directory: 'hostile',
    fileName: 'out.txt',
    relayViaNode: '',
    relayReplyMethod: '',
    createdMs: Date.now(),
    ...over,
  };
}

/**
 * A zstd frame of `blocks` RLE blocks of 128 KiB each: 4 bytes per block on the wire, so a
 * payload of a few hundred KiB claims gigabytes once decompressed.
 */
export function zstdBomb(blocks: number): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])]; // magic; no content size; 128 KiB window
  const size = 128 * 1024;
  for (let i = 0; i < blocks; i++) {
    const h = (size << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0); // Block_Size | RLE | Last_Block
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0x41]));
  }
  return Buffer.concat(parts);
}

export function toHeaders(h: Record<string, string>): MsgHdrs {
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
}

/** How a hostile request is sent: as which client, proven or with its headers as given. */
export interface AskOptions {
  readonly subject?: string;
  /** The client that sends (default: the one holding central's key). */
  readonly as?: RogueNode;
  /** false: the headers go as they are, with no proof added. */
  readonly prove?: boolean;
}

/**
 * A broker, central and ship1 (real processes), and a hostile client holding central's own key,
 * which proves what it publishes as central. Every request must be answered (a rejected ACK, not
 * silence), every refusal told to central's error log, and the nodes must keep serving.
 */
export class HostileWorld {
  private runNo = 0;

  private constructor(
    readonly nats: NatsServer,
    readonly central: StewardProcess,
    readonly ship1: StewardProcess,
    /** The hostile client with central's key. */
    readonly rogue: RogueNode,
    /** A scratch folder of the test (marker files, keys). */
    readonly work: string,
  ) {}

  static async start(): Promise<HostileWorld> {
    const nats = await NatsServer.start();
    const common = { central: 'central', brokerUrl: `127.0.0.1:${nats.port}`, flags: ['-startPubREQHello=0'] };
    const [central, ship1] = await Promise.all([
      StewardProcess.start({ name: 'central', ...common }),
      StewardProcess.start({ name: 'ship1', ...common }),
    ]);
    const rogue = await RogueNode.connect(nats.url, 'central', RogueNode.identityOf(central.dir));
    return new HostileWorld(nats, central, ship1, rogue, fs.mkdtempSync(path.join(os.tmpdir(), 'steward-hostile-')));
  }

  async stop(): Promise<void> {
    await this.rogue.close();
    await Promise.all([this.central, this.ship1].map((n) => n.stop()));
    await this.nats.close();
    for (const n of [this.central, this.ship1]) n.cleanup();
    fs.rmSync(this.work, { recursive: true, force: true });
  }

  /** Connects another hostile client as `name` with the key in `seedFile`. */
  connect(name: string, seedFile: string): Promise<RogueNode> {
    return RogueNode.connect(this.nats.url, name, seedFile);
  }

  /** Publishes `payload` as a request and returns the ACK the node answered with. */
  async ask(payload: Uint8Array, hdrs: Record<string, string> = {}, o: AskOptions = {}): Promise<Ack> {
    const subject = o.subject ?? SUBJECT;
    const receiver = subject.split('.')[0] ?? '';
    let reply: string;
    try {
      reply = await (o.as ?? this.rogue).requestRaw(subject, receiver, payload, hdrs, o.prove !== false);
    } catch (err) {
      const node = receiver === 'central' ? this.central : this.ship1;
      throw new Error(
        `no answer on ${subject} (${(err as Error).message}); ${node.opts.name} running: ${node.running}; its stderr ends: ${node.stderr.slice(-1500)}`,
        { cause: err },
      );
    }
    return JSON.parse(reply) as Ack;
  }

  async assertRejected(payload: Uint8Array, hdrs: Record<string, string>, error: RegExp, o: AskOptions = {}): Promise<Ack> {
    const ack = await this.ask(payload, hdrs, o);
    assert.equal(ack.status, 'rejected', JSON.stringify(ack).slice(0, 500));
    assert.match(ack.error ?? '', error);
    return ack;
  }

  /** Waits for the line of central's error log that holds `needle` (and matches `also`), and returns it. */
  errorLogLine(needle: string, also?: RegExp): Promise<string> {
    return eventually(
      () =>
        this.central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(needle) && (also === undefined || also.test(l))),
      { what: `a line with ${JSON.stringify(needle.slice(0, 100))} in central's error log`, timeoutMs: 30_000 },
    );
  }

  /**
   * A command for ship1 that writes `tag` into a marker file of the test and sends no reply (a
   * reply would go to central, which never sent the request and refuses it).
   */
  markerCommand(tag: string, over: Partial<Message> = {}): { msg: Message; file: string } {
    const file = path.join(this.work, `${tag}.marker`);
    return {
      msg: wireMessage({ methodArgs: ['bash', '-c', 'echo "$1" >> "$0"', file, tag], replyMethod: 'REQNone', ...over }),
      file,
    };
  }

  /** Waits until the marker file holds `text`. */
  async marker(file: string, text: string): Promise<void> {
    await eventually(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text, {
      what: `${path.basename(file)} to hold ${JSON.stringify(text)}`,
      timeoutMs: 30_000,
    });
  }

  /** Both nodes run, and a normal command from central still runs on ship1 and comes back. */
  async assertStillServing(): Promise<void> {
    assert.ok(this.ship1.running, `ship1 is still running; stderr: ${this.ship1.stderr.slice(-3000)}`);
    assert.ok(this.central.running, 'central is still running');
    const tag = `normal-${++this.runNo}`;
    const lines = await this.central.send(
      JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', tag], directory: 'normal', fileName: `${tag}.txt` }),
    );
    assert.equal(lines[0]?.status, 'accepted', JSON.stringify(lines));
    const out = await eventually(() => this.central.readData('normal', 'ship1', `${tag}.txt`), {
      what: `the result of ${tag}`,
      timeoutMs: 30_000,
    });
    assert.equal(out, `${tag}\n`);
  }
}
