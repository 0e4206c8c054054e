// Cold-start phases, for bench/coldstart.ts: preloaded after the code cache, it notes when this
// process reached the preload, when functions-framework asked for the function's bundle, when that
// returned, when the server listened and when the first request arrived, and writes them (ms since
// the process began) to PHASES_OUT as the request arrives. Measurement only; never deployed.
'use strict';
const { writeFileSync } = require('node:fs');
const http = require('node:http');
const Module = require('node:module');

const phases = { preload: performance.now() };
const load = Module._load;
Module._load = function loadNoting(request, ...rest) {
  const bundle = /index\.cjs$/.test(request) && phases.bundleStart === undefined;
  if (bundle) phases.bundleStart = performance.now();
  try {
    return load.call(this, request, ...rest);
  } finally {
    if (bundle) phases.bundleEnd = performance.now();
  }
};
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function listenNoting(...args) {
  phases.listen ??= performance.now();
  return listen.apply(this, args);
};
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function emitNoting(event, ...args) {
  if (event === 'request' && phases.request === undefined) {
    phases.request = performance.now();
    writeFileSync(process.env.PHASES_OUT, JSON.stringify(phases));
  }
  return emit.call(this, event, ...args);
};
