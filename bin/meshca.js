#!/usr/bin/env node
// The installed `meshca` command: runs the compiled CLI (built by `npm ci` / `npm run build`).
import('../dist/src/cli/main.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = 70;
    },
  );
