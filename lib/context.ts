import type { Application } from 'express';
import type { Config } from './config';
import type { Logger } from './logger';

/** What `createApp` knows about an app and `serve` needs: its config and logger. */
export interface AppContext {
  readonly config: Config;
  readonly logger: Logger;
}

const contexts = new WeakMap<Application, AppContext>();

/** Remember the config and logger `createApp` built for `app`. */
export function setAppContext(app: Application, context: AppContext): void {
  contexts.set(app, context);
}

/** The config and logger of an app made by `createApp`, or undefined for a plain `express()`. */
export function getAppContext(app: Application): AppContext | undefined {
  return contexts.get(app);
}
