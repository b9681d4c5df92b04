// Prints the size of what the hub ships for the widget (JS with its CSS inside), raw and gzipped.
// Usage: npm run size   (fails when the gzipped size reaches 20 KB)
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'widget.js');
const body = fs.readFileSync(file);
const gz = zlib.gzipSync(body, { level: 9 }).length;
console.log(`widget.js: ${body.length} bytes, ${gz} bytes gzipped (${(gz / 1024).toFixed(1)} KB; budget 20 KB)`);
if (gz >= 20 * 1024) process.exit(1);
