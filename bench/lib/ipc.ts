// The harness side of a helper process (load generator, in-process runner): a pinned Node child
// that runs TypeScript through tsx and answers one command at a time over the IPC channel.
import type { ChildProcess } from 'node:child_process';
import { spawnPinned } from './procs.js';

export interface Helper<C> {
  child: ChildProcess;
  pid: number;
  call<R>(cmd: C): Promise<R>;
}

export function startHelper<C>(script: string, cpus: string | null, cwd: string): Helper<C> {
  const child = spawnPinned(cpus, process.execPath, ['--import', 'tsx', script], {
    cwd,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.error !== undefined) waiter.reject(new Error(`${script}: ${msg.error}`));
    else waiter.resolve(msg.result);
  });
  child.on('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited (${code ?? signal})`));
    pending.clear();
  });
  return {
    child,
    get pid() {
      return child.pid!;
    },
    call<R>(cmd: C): Promise<R> {
      const id = nextId++;
      return new Promise<R>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd });
      });
    },
  };
}
