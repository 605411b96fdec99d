#!/usr/bin/env node
// Formats HCL with HashiCorp's hclwrite.Format (what `terraform fmt` uses), through
// the WebAssembly build in the npm package @cdktf/hcl-tools.
//
// Usage: node tools/hclfmt.js FILE...     prints a JSON object {file: formatted text}
// Tests compare each generated .tf file with its formatted text: they must be equal.
const fs = require("fs");
const { format } = require("@cdktf/hcl-tools");

(async () => {
  const out = {};
  for (const file of process.argv.slice(2)) {
    out[file] = await format(fs.readFileSync(file, "utf8"));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
