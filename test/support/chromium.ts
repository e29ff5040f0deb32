// Debian's headless Chromium driven by playwright-core, for the dashboard's browser test and its
// screenshot script. We start the browser process ourselves (so its pid is ours to kill) and drive it
// over the DevTools protocol. --no-sandbox: tests run as root in a container, where Chromium's sandbox
// cannot start.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.MESHCA_CHROMIUM ?? '/usr/bin/chromium';

export interface RunningChromium {
  browser: Browser;
  child: ChildProcess;
  /** Disconnects, kills the browser process and removes its profile. */
  close(): Promise<void>;
}

export async function launchChromium(register?: (child: ChildProcess) => void): Promise<RunningChromium> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium), or set MESHCA_CHROMIUM`,
    );
  const profile = mkdtempSync(join(tmpdir(), 'meshca-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
      `--user-data-dir=${profile}`,
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  register?.(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`chromium exited before it listened:\n${text}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint);
  return {
    browser,
    child,
    async close() {
      await browser.close().catch(() => {});
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
