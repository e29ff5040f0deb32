// Records the URL of every module a Node process loads, one a line, in the file MESHCA_MODULE_LOG names,
// so a test can tell what a command loaded: NODE_OPTIONS="--import <this file's URL>" meshca serve …
// The same file is the hooks module (load runs in Node's hooks thread) and what registers it.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

/** @type {string | undefined} */
let logFile;

/** @param {{ logFile: string }} data */
export function initialize(data) {
  logFile = data.logFile;
}

/** @param {string} url @param {object} context @param {Function} nextLoad */
export function load(url, context, nextLoad) {
  if (logFile) appendFileSync(logFile, `${url}\n`);
  return nextLoad(url, context);
}

if (isMainThread && process.env.MESHCA_MODULE_LOG) {
  register(import.meta.url, { data: { logFile: process.env.MESHCA_MODULE_LOG } });
}
