'use strict';
/**
 * Test support for scenarios/test: a local HTTP server that stands for the bot's callback URL and records the
 * status events, a custom-data builder, and a runner that drives one simulated session in-process.
 * (Kept outside scenarios/test so that `node --test scenarios/test/` does not count it as a test file.)
 */
const http = require('node:http');
const path = require('node:path');
const { Simulation } = require('../simulator/voxengine');

const SCENARIO = path.resolve(__dirname, '..', 'outbound_call.js');
const TOKEN = 'cb-token-7f3a9c'; // recognisable, so tests can prove it never leaks
const OPENAI_KEY = 'sk-test-9d2e41'; // likewise

/**
 * A callback server. `respond(request, attemptIndex)` returns the HTTP status for each request (default 200);
 * `request.body` is the parsed JSON. Every request is kept in `requests` (in arrival order); `events` holds the
 * bodies that were answered 2xx, de-duplicated by seq.
 */
async function startCallbackServer({ respond } = {}) {
  const requests = [];
  const events = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      const request = { method: req.method, url: req.url, headers: req.headers, text, body };
      requests.push(request);
      const status = respond ? respond(request, requests.length - 1) : 200;
      if (status >= 200 && status < 300 && body && !events.some((e) => e.seq === body.seq)) events.push(body);
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: status < 300 }));
      for (const waiter of [...waiters]) waiter();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/voximplant/events`;
  return {
    url,
    requests,
    events,
    /** Resolves once predicate(events) is true; rejects after timeoutMs. */
    waitFor(predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(events)) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            resolve(events);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`timed out waiting; events so far: ${events.map((e) => e.event).join(', ')}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A URL on which nothing listens (a server bound, then closed). */
async function unreachableUrl() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/voximplant/events`;
}

/** script_custom_data for contract v1, with overrides (a value of undefined removes the field). */
function customData(overrides = {}) {
  const data = {
    v: 1,
    call_id: 'call-0001',
    destination: '+14155550100',
    caller_id: '+14155559999',
    channel: 'pstn',
    instructions: 'Remind Dana about the dentist appointment tomorrow at 10:00. Keep it short and friendly.',
    callback_url: 'http://127.0.0.1:9/unset',
    callback_token: TOKEN,
    max_duration_s: 60,
    ...overrides,
  };
  for (const key of Object.keys(data)) if (data[key] === undefined) delete data[key];
  return JSON.stringify(data);
}

/**
 * Runs one session of the scenario (or of `scenarioSource`). `during(sim, accessUrl)` runs alongside the session
 * (for control requests). Resolves to {result, sim}; the session must end within `timeoutMs` of real time.
 */
async function runSession({
  customData: data,
  secrets = { OPENAI_API_KEY: OPENAI_KEY },
  timeScale = 0.02,
  scenarioSource,
  scenarioPath = SCENARIO,
  during,
  timeoutMs = 10000,
} = {}) {
  const sim = new Simulation({ scenarioPath, scenarioSource, customData: data, secrets, timeScale });
  const { accessUrl } = await sim.start();
  if (!sim.ended) sim.dispatchStarted();
  const guard = setTimeout(() => sim.stop(), timeoutMs);
  try {
    const duringPromise = during ? during(sim, accessUrl) : Promise.resolve();
    const [result] = await Promise.all([sim.done, duringPromise]);
    return { result, sim };
  } finally {
    clearTimeout(guard);
  }
}

/** POSTs (or other method) to the session's access URL; resolves to {status, text, json}. */
function control(accessUrl, body, method = 'POST') {
  return new Promise((resolve, reject) => {
    const req = http.request(accessUrl, { method, headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

/** Names of the simulator's recorded API calls, in order. */
function apiNames(sim) {
  return sim.apiCalls.map((record) => record.api);
}

/** Index in sim.events (the simulator's timeline) of the first entry matching kind and name. */
function timelineIndex(sim, kind, name) {
  return sim.events.findIndex((entry) => entry.kind === kind && entry.name === name);
}

/**
 * Checks the envelope of every status event: v 1, the call id, seq 1..n in arrival order, an ISO 8601 UTC `at`,
 * an object `data`. Returns the event names in order.
 */
function checkEnvelope(assert, events, callId = 'call-0001') {
  events.forEach((event, index) => {
    assert.equal(event.v, 1, `event ${index} has v 1`);
    assert.equal(event.call_id, callId, `event ${index} carries the call id`);
    assert.equal(event.seq, index + 1, `event ${index} (${event.event}) has seq ${index + 1}`);
    assert.match(event.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `event ${index} has an ISO 8601 UTC time`);
    assert.equal(new Date(event.at).toISOString(), event.at);
    assert.equal(typeof event.data, 'object');
    assert.notEqual(event.data, null);
  });
  return events.map((event) => event.event);
}

module.exports = {
  SCENARIO,
  checkEnvelope,
  TOKEN,
  OPENAI_KEY,
  startCallbackServer,
  unreachableUrl,
  customData,
  runSession,
  control,
  apiNames,
  timelineIndex,
};
