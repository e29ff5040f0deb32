// `meshca sample httpbin|sleep`: the demo applications of Istio's samples, small enough to read.
// They live with the demos outside src/ (demo/samples/) and are loaded only when one is run.
import { invalidInput } from '../errors.js';
import { createLogger } from '../log.js';
import { type CommandSpec, parseCommandArgs, str } from './args.js';
import type { CliContext } from './context.js';
import { waitForStopSignal } from './signals.js';

const spec: CommandSpec = {
  name: 'sample',
  summary: "run Istio's sample apps: httpbin (an HTTP server) or sleep (one HTTP request through a sidecar)",
  usage: 'meshca sample httpbin [--port N] [--host H] | meshca sample sleep --url URL',
  allowPositionals: true,
  options: { port: { type: 'string' }, host: { type: 'string' }, url: { type: 'string' } },
  optionHelp: [
    'httpbin: --port N (default 8000, 0 picks one), --host H (default 127.0.0.1); serves /html /headers /ip /get /status/CODE',
    "sleep:   --url URL  fetch URL (e.g. the sidecar's outbound port) and print status and body",
  ],
  examples: [
    'meshca sample httpbin --port 8000',
    'meshca sample sleep --url http://127.0.0.1:15001/html',
    'curl -s http://127.0.0.1:15001/headers',
  ],
};

export async function runSample(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseCommandArgs(spec, argv, ctx.out);
  if (!args) return 0;
  const [app] = args.positionals;
  if (app === 'httpbin') {
    const portText = str(args.values.port) ?? '8000';
    if (!/^\d+$/.test(portText)) throw invalidInput('CLI_USAGE', `--port ${portText} is not a port number`);
    const host = str(args.values.host) ?? '127.0.0.1';
    const { startHttpbin } = await import('../../demo/samples/httpbin.js');
    const server = await startHttpbin({ port: Number(portText), host });
    const log = createLogger({ component: 'httpbin' });
    log.info('httpbin listening', { event: 'listening', port: server.port, host });
    await waitForStopSignal();
    await server.close();
    return 0;
  }
  if (app === 'sleep') {
    const url = str(args.values.url);
    if (!url) throw invalidInput('CLI_USAGE', `sleep needs --url URL\nUsage: ${spec.usage}`);
    const parsed = new URL(url);
    const { fetchThrough } = await import('../../demo/samples/sleep.js');
    const result = await fetchThrough(Number(parsed.port), `${parsed.pathname}${parsed.search}`);
    ctx.out(`HTTP ${result.status}\n${result.body}`);
    return result.status >= 200 && result.status < 300 ? 0 : 1;
  }
  throw invalidInput('CLI_USAGE', `name the sample: httpbin or sleep\nUsage: ${spec.usage}`);
}
