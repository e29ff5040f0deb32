// A few PKCS#11 sessions shared by concurrent signatures. A session runs one operation at a time,
// so each signature borrows one; the pool opens up to `size` of them, queues a bounded number of
// waiters beyond that, and refuses the rest rather than holding them without end.
import { unavailable } from '../../errors.js';

export interface SessionPoolOptions<S> {
  open(): S;
  close(session: S): void;
  size: number;
  /** How many callers may wait for a session; one more is refused as `unavailable`. */
  maxWaiting: number;
  /** For the refusal message: the key's URI. */
  what: string;
}

export interface SessionPool<S> {
  use<T>(work: (session: S) => Promise<T>): Promise<T>;
  /** Resolves once no session is in use. */
  drain(): Promise<void>;
  /** Closes every idle session; sessions in use are closed when they come back. */
  closeAll(): void;
}

export function createSessionPool<S>(opts: SessionPoolOptions<S>): SessionPool<S> {
  const idle: S[] = [];
  const waiting: Array<{ resolve(session: S): void; reject(err: Error): void }> = [];
  const drained: Array<() => void> = [];
  let busy = 0;
  let closed = false;
  const refuse = (why: string) => unavailable('PKCS11_TOKEN_UNAVAILABLE', `${opts.what}: ${why}`);

  const acquire = (): Promise<S> => {
    if (closed) return Promise.reject(refuse("the token's sessions are closed; retry shortly"));
    const ready = idle.pop();
    if (ready !== undefined || busy < opts.size) {
      const session = ready ?? opts.open();
      busy++;
      return Promise.resolve(session);
    }
    if (waiting.length >= opts.maxWaiting) {
      return Promise.reject(
        refuse(`the token is busy (${busy} signatures running, ${waiting.length} waiting); retry shortly`),
      );
    }
    return new Promise<S>((resolve, reject) => waiting.push({ resolve, reject }));
  };

  const giveBack = (session: S) => {
    const next = closed ? undefined : waiting.shift();
    if (next) return next.resolve(session); // handed on: still busy
    busy--;
    if (closed) opts.close(session);
    else idle.push(session);
    if (busy === 0) for (const done of drained.splice(0)) done();
  };

  return {
    async use(work) {
      const session = await acquire();
      try {
        return await work(session);
      } finally {
        giveBack(session);
      }
    },
    drain: () => (busy === 0 ? Promise.resolve() : new Promise((resolve) => drained.push(resolve))),
    closeAll() {
      closed = true;
      for (const session of idle.splice(0)) opts.close(session);
      for (const next of waiting.splice(0))
        next.reject(refuse("the token's sessions were closed; retry shortly"));
    },
  };
}
