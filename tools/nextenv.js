// Next.js's own .env loader (@next/env: dotenv, then dotenv-expand), as `next build` runs it:
// prints the variables it reads from DIR's .env files (production mode) as JSON.
// tests/test_env_hostile.py reads `flowstack env -o DIR/.env.production` back with it.
"use strict";
const { loadEnvConfig } = require("@next/env");

const dir = process.argv[2];
const quiet = { info() {}, error(message) { process.stderr.write(String(message) + "\n"); } };
const { parsedEnv, loadedEnvFiles } = loadEnvConfig(dir, false, quiet, true);
process.stdout.write(JSON.stringify({ parsedEnv, files: loadedEnvFiles.map((f) => f.path) }));
