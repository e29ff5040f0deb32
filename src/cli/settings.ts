// Setting resolution for every command: a flag beats an environment variable (Istio's name where
// Istio has one), which beats the default. Problems are collected and reported together.
import { invalidInput } from '../errors.js';

export class SettingsProblems {
  readonly problems: string[] = [];

  /** Runs `parse` and records its error message instead of throwing, so every problem is reported at once. */
  try<T>(parse: () => T, fallback: T): T {
    try {
      return parse();
    } catch (err) {
      this.problems.push((err as Error).message);
      return fallback;
    }
  }

  add(problem: string): void {
    this.problems.push(problem);
  }

  throwIfAny(command: string): void {
    if (this.problems.length === 0) return;
    throw invalidInput(
      'CLI_BAD_SETTINGS',
      // main.ts prefixes "meshca <command>: ", so the message starts with the problem itself.
      `${this.problems.length === 1 ? this.problems[0] : `${this.problems.length} problems:\n  - ${this.problems.join('\n  - ')}`}\n(see "meshca ${command} --help")`,
    );
  }
}

/** Flag, else environment variable, else default; returns the winning value and where it came from. */
export function pick(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  envName: string | undefined,
  fallback: string,
): { value: string; source: string } {
  if (flag !== undefined) return { value: flag, source: 'flag' };
  if (envName && env[envName] !== undefined && env[envName] !== '')
    return { value: env[envName]!, source: envName };
  return { value: fallback, source: 'default' };
}

export function pickOptional(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  envName: string | undefined,
): string | undefined {
  if (flag !== undefined) return flag;
  if (envName && env[envName]) return env[envName];
  return undefined;
}

export function parseHostPort(text: string, source: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw invalidInput('CLI_BAD_ADDRESS', `${source}: "${text}" is not host:port (e.g. 127.0.0.1:15012)`);
  }
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}
