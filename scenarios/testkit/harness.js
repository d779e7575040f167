'use strict';
/**
 * Test support for scenarios/test: a local HTTP server that stands for the bot (it serves the call's brief and
 * records the status events), custom-data and brief builders, a runner that drives one simulated session
 * in-process, and for pull mode a stand-in bot that delivers the brief over the access URL and polls for events.
 * (Kept outside scenarios/test so that `node --test scenarios/test/` does not count it as a test file.)
 */
const http = require('node:http');
const path = require('node:path');
const { Simulation } = require('../simulator/voxengine');

const SCENARIO = path.resolve(__dirname, '..', 'outbound_call.js');
const TOKEN = 'cb-token-7f3a9c'; // recognisable, so tests can prove it never leaks
const BRIEF_TOKEN = 'brief-token-51c0de'; // likewise
const SECRET = 'ctl-secret-a9b8c7'; // likewise: the brief's control_secret
const OPENAI_KEY = 'sk-test-9d2e41'; // likewise
const CALL_ID = 'call-0001';
const EVENTS_PATH = '/voximplant/events';
const BRIEF_PATH = '/voximplant/brief';
// Voximplant keeps at most 200 bytes of custom data (voximplant.com/docs/howtos/calls/custom_data; d.ts,
// VoxEngine.customData: "Maximum size is 200 bytes"): the builder refuses to make more.
const MAX_CUSTOM_DATA_BYTES = 200;

/**
 * A local stand-in for the bot: it serves the call's brief (GET /voximplant/brief with the brief token) and takes
 * status events (POST /voximplant/events), recording both.
 *
 * `respond(request, attemptIndex)` returns the HTTP status (or a promise of it) for each status event (default 200);
 * `request.body` is the parsed JSON. Every event request is kept in `requests` (in arrival order); `events` holds the bodies that were
 * answered 2xx, de-duplicated by seq. `respondBrief(request, index)` may return a status, or {status, body} (body
 * an object or a string), for each brief request (default: 200 with `brief` for the right token, 401 otherwise);
 * brief requests are kept in `briefRequests`. `bot.customData(briefOverrides, launchOverrides)` sets the brief the
 * server answers and returns the matching custom data (launch contract v2).
 */
async function startCallbackServer({ respond, respondBrief } = {}) {
  const requests = [];
  const briefRequests = [];
  const events = [];
  const waiters = [];
  let brief = null;
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
      const request = { method: req.method, url: req.url, headers: req.headers, text, body, at: performance.now() };
      if (req.url === BRIEF_PATH) {
        briefRequests.push(request);
        let answer = respondBrief ? respondBrief(request, briefRequests.length - 1) : undefined;
        if (answer === undefined) {
          const good = req.method === 'GET' && req.headers.authorization === `Bearer ${BRIEF_TOKEN}` && brief;
          answer = good ? { status: 200, body: brief } : { status: 401, body: { error: 'unknown or spent token' } };
        }
        if (typeof answer === 'number') answer = { status: answer, body: answer === 200 ? brief : { error: 'no' } };
        const out = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
        res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(out);
        return;
      }
      requests.push(request);
      Promise.resolve(respond ? respond(request, requests.length - 1) : 200).then((status) => {
        if (status >= 200 && status < 300 && body && !events.some((e) => e.seq === body.seq)) events.push(body);
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: status < 300 }));
        for (const waiter of [...waiters]) waiter();
      });
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  const url = `${base}${EVENTS_PATH}`;
  const briefUrl = `${base}${BRIEF_PATH}`;
  return {
    url,
    briefUrl,
    server,
    requests,
    briefRequests,
    events,
    get brief() {
      return brief;
    },
    /** Sets the brief (defaults, overrides; undefined removes a field) and returns its v2 custom data. */
    customData(briefOverrides = {}, launchOverrides = {}) {
      brief = makeBrief({ callback_url: url, ...briefOverrides });
      return launchData({ id: brief.call_id === undefined ? CALL_ID : brief.call_id, u: briefUrl, ...launchOverrides });
    },
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
    /** Stops listening (connections are refused) until up(): a bot that is restarting. */
    down: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    /** Listens again on the same port. */
    up: () => new Promise((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A brief (launch contract v2), with overrides (a value of undefined removes the field). */
function makeBrief(overrides = {}) {
  const data = {
    v: 2,
    call_id: CALL_ID,
    destination: '+14155550100',
    caller_id: '+14155559999',
    channel: 'pstn',
    instructions: 'Remind Dana about the dentist appointment tomorrow at 10:00. Keep it short and friendly.',
    max_duration_s: 60,
    callback_url: 'http://127.0.0.1:9/unset',
    callback_token: TOKEN,
    control_secret: SECRET,
    ...overrides,
  };
  for (const key of Object.keys(data)) if (data[key] === undefined) delete data[key];
  return data;
}

/** Custom data for launch contract v2 (compact JSON, at most 200 bytes), with overrides (undefined removes). */
function launchData(overrides = {}) {
  const data = { v: 2, id: CALL_ID, u: 'http://127.0.0.1:9/unset', t: BRIEF_TOKEN, ...overrides };
  for (const key of Object.keys(data)) if (data[key] === undefined) delete data[key];
  const text = JSON.stringify(data);
  if (Buffer.byteLength(text, 'utf8') > MAX_CUSTOM_DATA_BYTES) {
    throw new RangeError(`custom data is ${Buffer.byteLength(text, 'utf8')} bytes; Voximplant keeps ${MAX_CUSTOM_DATA_BYTES}`);
  }
  return text;
}

/** Pull-mode custom data {"v":2,"id","m":"pull"} (compact JSON, at most 200 bytes), with overrides. */
function pullLaunchData(overrides = {}) {
  return launchData({ u: undefined, t: undefined, m: 'pull', ...overrides });
}

/** A pull-mode brief: the push brief without callback_url and callback_token, with overrides (undefined removes). */
function makePullBrief(overrides = {}) {
  return makeBrief({ callback_url: undefined, callback_token: undefined, ...overrides });
}

/**
 * Old-contract (v1) custom data, as a bot before launch contract v2 sent it, cut down to what fits in Voximplant's
 * 200 bytes (a whole v1 call rarely fits; such data never reaches a session) and to what the refusal reads: the
 * version and the callback (v1 also had destination, caller_id, channel, instructions, max_duration_s).
 */
function customDataV1(overrides = {}) {
  const data = { v: 1, call_id: CALL_ID, callback_url: 'http://127.0.0.1:9/unset', callback_token: TOKEN, ...overrides };
  for (const key of Object.keys(data)) if (data[key] === undefined) delete data[key];
  return JSON.stringify(data);
}

/** A URL on which nothing listens (a server bound, then closed). */
/**
 * A URL whose connections are refused: port 9 (discard), which nothing here serves and which no listen(0) is ever
 * given (ephemeral ports start at 32768), so no other test's server can take it, as it could a port just freed.
 */
async function unreachableUrl() {
  return 'http://127.0.0.1:9/voximplant/events';
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

/** Asks the session to hang up, with the control secret. */
function hangup(accessUrl, secret = SECRET) {
  return control(accessUrl, { action: 'hangup', secret });
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

/** Pull mode: delivers the brief over the access URL. */
function deliverBrief(accessUrl, brief = makePullBrief()) {
  return control(accessUrl, { action: 'brief', brief });
}

/** Pull mode: one poll, {"action":"events","after":N,"secret":S}. */
function poll(accessUrl, after, secret = SECRET) {
  return control(accessUrl, { action: 'events', after, secret });
}

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A pull-mode stand-in bot for one session: delivers `brief` (unless null) and polls until an answer says `done`
 * or the access URL stops answering. `after` is the highest seq received so far (every seq up to it arrived);
 * events are kept once each, by seq. Polling is adaptive by default: `fastMs` again after an answer with events,
 * `slowMs` after an empty one (real milliseconds); `fixedMs` polls at one pace. `holdMs(after)` may return a delay
 * before a poll (e.g. a bot that is restarting). Resolves to {events, answers, briefAnswer, ended} where `answers`
 * holds every poll's {after, status, json} and `ended` is 'done' or the reason polling stopped.
 */
async function pullBot(accessUrl, {
  brief = makePullBrief(), secret = SECRET, fastMs = 5, slowMs = 25, fixedMs, holdMs, maxPolls = 5000,
} = {}) {
  const events = [];
  const answers = [];
  let briefAnswer = null;
  if (brief !== null) {
    briefAnswer = await deliverBrief(accessUrl, brief);
  }
  let after = 0;
  let ended = 'max polls';
  for (let i = 0; i < maxPolls; i++) {
    const hold = holdMs ? holdMs(after) : 0;
    if (hold > 0) await pause(hold);
    let answer;
    try {
      answer = await poll(accessUrl, after, secret);
    } catch (error) {
      ended = `poll failed: ${error.code || error.message}`;
      break;
    }
    answers.push({ after, status: answer.status, json: answer.json });
    if (answer.status !== 200 || !answer.json || answer.json.ok !== true) {
      ended = `answered ${answer.status} ${answer.text}`;
      break;
    }
    for (const event of answer.json.events) {
      if (event.seq === after + 1) {
        events.push(event);
        after = event.seq;
      }
    }
    if (answer.json.done) {
      ended = 'done';
      break;
    }
    await pause(fixedMs !== undefined ? fixedMs : answer.json.events.length > 0 ? fastMs : slowMs);
  }
  return { events, answers, briefAnswer, ended };
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
function checkEnvelope(assert, events, callId = CALL_ID) {
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
  BRIEF_TOKEN,
  SECRET,
  OPENAI_KEY,
  CALL_ID,
  MAX_CUSTOM_DATA_BYTES,
  startCallbackServer,
  unreachableUrl,
  makeBrief,
  launchData,
  customDataV1,
  pullLaunchData,
  makePullBrief,
  deliverBrief,
  poll,
  pullBot,
  pause,
  runSession,
  control,
  hangup,
  apiNames,
  timelineIndex,
};
