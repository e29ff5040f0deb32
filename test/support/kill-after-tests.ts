// The one place that cleans up after tests that start child processes: whatever a test file started
// and is still running after its last test is killed (its pipes would otherwise keep the test process,
// and so the whole run, waiting), and on exit, as a last resort.
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';

const running = new Set<ChildProcess>();
const killAll = () => {
  for (const child of running) child.kill('SIGKILL');
};
after(killAll);
process.on('exit', killAll);

/** Kills `child` after the test file's last test, unless it has exited by then. */
export function killAfterTests<T extends ChildProcess>(child: T): T {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}
