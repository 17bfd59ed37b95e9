#!/usr/bin/env node
// The operator CLI (`nova-kms verify-attestation …`). `npm run build` bundles bundle/cli.ts
// into dist/cli.mjs, which runs the command line on import.
import '../dist/cli.mjs'
