// Runs `meshca demo …` from the sources, as the compiled CLI will once main.ts registers it, so the
// e2e test can drive the demo as a real process (signals, exit code, output).
import { runDemo } from '../../src/cli/demo.js';
import { main, registerCommand } from '../../src/cli/main.js';

registerCommand('demo', runDemo, "play one of Istio's tasks end to end on this machine");
process.exitCode = await main(['demo', ...process.argv.slice(2)]);
