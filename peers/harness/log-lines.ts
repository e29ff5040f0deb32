// A started child's output as it arrives: the last part of it for error messages, and every line that
// is a JSON object (a log line), handed to whoever waits for one.
import type { ChildProcess } from 'node:child_process';

export type LogLine = Record<string, unknown>;

const OUTPUT_LIMIT = 64 * 1024;

/** Keeps the end of a child's output: enough to explain a failure, bounded for a chatty one. */
export class OutputTail {
  private text = '';
  add(chunk: string): void {
    this.text += chunk;
    if (this.text.length > OUTPUT_LIMIT) this.text = this.text.slice(-OUTPUT_LIMIT);
  }
  toString(): string {
    return this.text;
  }
}

interface LogWaiter {
  predicate: (line: LogLine) => boolean;
  resolve: (line: LogLine) => void;
}

/** A started child's output as it comes: its tail for messages, its JSON log lines, who waits for which. */
export interface WatchedOutput {
  tail: OutputTail;
  logs: LogLine[];
  waiters: Set<LogWaiter>;
}

/** A line that is a JSON object, or undefined (it stays in the output tail only). */
function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    return undefined;
  }
}

/** Keeps a log line and hands it to every waiter whose predicate it satisfies. */
function deliverLogLine(watched: WatchedOutput, line: LogLine): void {
  watched.logs.push(line);
  for (const w of watched.waiters) {
    if (w.predicate(line)) {
      watched.waiters.delete(w);
      w.resolve(line);
    }
  }
}

/** A `data` handler for one stream: it keeps the tail and delivers each whole JSON line. */
function logLineReader(watched: WatchedOutput): (chunk: string) => void {
  let pending = '';
  return (chunk: string) => {
    watched.tail.add(chunk);
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const text of lines) {
      const line = parseLogLine(text);
      if (line) deliverLogLine(watched, line);
    }
  };
}

export function watchLogLines(child: ChildProcess): WatchedOutput {
  const watched: WatchedOutput = { tail: new OutputTail(), logs: [], waiters: new Set() };
  child.stdout!.setEncoding('utf8').on('data', logLineReader(watched));
  child.stderr!.setEncoding('utf8').on('data', logLineReader(watched));
  return watched;
}
