#!/usr/bin/env -S node --max-semi-space-size=2
// `node dist/cli.js` works too. The executable is dist/cli.cjs (package.json's bin): as CommonJS it starts ~9 ms
// sooner (measured), and this ES module only hands over to it.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./cli.cjs');
