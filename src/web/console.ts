import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import type { Input } from '../inputs/inputs.js';
import type { StewardNode } from '../node/node.js';
import { Api } from './api.js';
import { EventHub } from './events.js';
import { Listener } from './listener.js';
import { Sessions } from './sessions.js';
import { ConsoleServer, dataFolderHandler } from './web-server.js';

/** Where the build puts the front end (scripts/build-web.mjs): next to this module, in dist/web/assets. */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/**
 * The web console (-webListener) and the data folder over HTTP (-exposeDataFolder), wired to a
 * node: one session store for both, the operator requests of the node behind the API, its
 * watchers behind the events. Each is an input of main: started with the others, stopped with
 * them.
 */
export function webInputs(node: StewardNode, cfg: ResolvedConfig, token: string, logger: Logger, assetsDir = ASSETS_DIR): Input[] {
  if (cfg.webAddress === undefined && cfg.dataFolderAddress === undefined) return [];
  const sessions = new Sessions(token);
  // Cookies are per host, not per port: the node's name keeps two consoles on one host apart.
  const cookieName = `steward_${cfg.nodeName}`;
  const log = logger.child({ component: 'web' });
  const inputs: Input[] = [];
  const errorLogFile = path.join(cfg.dataFolder, 'errorLog', cfg.nodeName, 'error.log');
  if (cfg.webAddress !== undefined) {
    const missing = ConsoleServer.assetsMissing(assetsDir);
    if (missing !== undefined) throw new Error(`-webListener: ${missing}`);
    const events = new EventHub({
      watchAll: (l) => node.watchers.watchAll(l),
      jobListeners: node.watchers.jobListeners,
      errorLogFile,
    });
    const api = new Api({
      handle: (req, ch) => node.control.handle(req, ch),
      audit: node.audit,
      jobTemplate: (id) => node.fleet.views.view(id)?.job.template,
      nodeName: cfg.nodeName,
      centralNodeName: cfg.centralNodeName,
      errorLogFile,
      dataFolder: cfg.dataFolderAddress === undefined ? undefined : { port: cfg.dataFolderAddress.port, tls: cfg.webTls !== undefined },
      logger: log,
    });
    const server = new ConsoleServer({
      sessions,
      api,
      events,
      cookieName,
      nodeName: cfg.nodeName,
      audit: node.audit,
      logger: log,
      assetsDir,
      secure: cfg.webTls !== undefined,
    });
    const listener = new Listener({
      flag: 'webListener',
      addr: cfg.webAddress,
      tls: cfg.webTls,
      handler: server.handle,
      logger: log,
      what: 'web console',
    });
    inputs.push({
      start: () => listener.start(),
      stop: async () => {
        events.stop();
        await listener.stop();
      },
    });
  }
  if (cfg.dataFolderAddress !== undefined) {
    const handler = dataFolderHandler({ sessions, cookieName, dataFolder: cfg.dataFolder, logger: log });
    inputs.push(
      new Listener({ flag: 'exposeDataFolder', addr: cfg.dataFolderAddress, tls: cfg.webTls, handler, logger: log, what: 'data folder' }),
    );
  }
  return inputs;
}
