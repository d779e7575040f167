'use strict';
// The simulator itself: strict namespaces, an isolated context, Net.httpRequestAsync, the access URL, timers
// scaled by time_scale, and its exit codes.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Simulation, EXIT } = require('../simulator/voxengine');
const { strictNamespace, UnknownNameError } = require('../simulator/strict');
const { runSession, control, unreachableUrl } = require('../testkit/harness');

/** Runs a small scenario; it reports what it wants to the test through Logger.write lines. */
async function runSmall(source, options = {}) {
  const { result, sim } = await runSession({ scenarioSource: source, timeScale: 0.01, secrets: {}, ...options });
  return { result, sim };
}

test('a typo in a VoxEngine name (CallEvents.Conected) fails loudly and names the bad property', async () => {
  const { result, sim } = await runSmall(`
    VoxEngine.addEventListener(AppEvents.Started, function () {
      var call = VoxEngine.callPSTN("+14155550100", "+14155559999");
      call.addEventListener(CallEvents.Conected, function () {});
      VoxEngine.terminate();
    });
  `);
  assert.equal(result.exitCode, EXIT.SCENARIO_ERROR);
  assert.ok(result.error instanceof UnknownNameError);
  assert.match(result.error.message, /CallEvents\.Conected is not a VoxEngine API name/);
  assert.match(result.error.message, /did you mean CallEvents\.Connected\?/);
  assert.ok(!sim.apiCalls.some((r) => r.api === 'terminate'), 'the scenario never got as far as terminate');
});

test('a typo is fatal even when the scenario catches the exception', async () => {
  const { result } = await runSmall(`
    VoxEngine.addEventListener(AppEvents.Started, function () {
      try { VoxEngine.callPstn("+14155550100", "+14155559999"); } catch (e) { Logger.write("swallowed"); }
      setTimeout(function () { VoxEngine.terminate(); }, 100);
    });
  `);
  assert.equal(result.exitCode, EXIT.SCENARIO_ERROR);
  assert.match(result.error.message, /VoxEngine\.callPstn is not a VoxEngine API name.*did you mean VoxEngine\.callPSTN/);
});

test('strict namespaces: known names read, unknown names throw, writes are refused', () => {
  const ns = strictNamespace('CallEvents', { Connected: 'Call.Connected' });
  assert.equal(ns.Connected, 'Call.Connected');
  assert.throws(() => ns.Conected, UnknownNameError);
  assert.throws(() => {
    ns.Connected = 'x';
  }, /read-only/);
  assert.equal(JSON.stringify({ ns }), '{"ns":{"Connected":"Call.Connected"}}', 'JSON.stringify still works');
  assert.equal(ns.then, undefined, 'promise resolution may probe then');
});

test('the context has VoxEngine globals only: no process, no Node require, no fetch, no console', async () => {
  const { result, sim } = await runSmall(`
    Logger.write("types " + [typeof process, typeof fetch, typeof console, typeof module, typeof Buffer,
      typeof VoxEngine, typeof Net, typeof Logger, typeof setTimeout, typeof JSON, typeof Promise].join(","));
    Logger.write("OpenAI before require: " + typeof OpenAI);
    require(Modules.OpenAI);
    Logger.write("OpenAI after require: " + typeof OpenAI);
    var threw = "no";
    try { require("fs"); } catch (e) { threw = "yes: " + e.message; }
    Logger.write("require fs " + threw);
    VoxEngine.terminate();
  `);
  assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
  const logs = sim.logs.join('\n');
  assert.match(logs, /types undefined,undefined,undefined,undefined,undefined,object,object,object,function,object,function/);
  assert.match(logs, /OpenAI before require: undefined/);
  assert.match(logs, /OpenAI after require: object/);
  assert.match(logs, /require fs yes: require\(\) in VoxEngine takes a Modules\.\* value/);
});

test('an uncaught error in a handler ends the simulation with exit code 3', async () => {
  const { result } = await runSmall(`
    VoxEngine.addEventListener(AppEvents.Started, function () { null.boom; });
  `);
  assert.equal(result.exitCode, EXIT.SCENARIO_ERROR);
  assert.match(result.reason, /Cannot read properties of null/);
});

// An unhandled promise rejection (exit code 3) is tested through the CLI in cli.test.js: in-process, node:test
// claims unhandled rejections for itself.

test('no terminate within the session lifetime cap: exit code 4', async () => {
  const sim = new Simulation({
    scenarioSource: 'VoxEngine.addEventListener(AppEvents.Started, function () { VoxEngine.callPSTN("+14155550177", "+14155559999"); });',
    timeScale: 0.001,
    lifetimeS: 60,
  });
  const started = performance.now();
  const result = await sim.run();
  assert.equal(result.exitCode, EXIT.LIFETIME_EXCEEDED);
  assert.match(result.reason, /no VoxEngine\.terminate\(\) within the 60 s session lifetime/);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 55 && elapsed < 1000, `60 s at time_scale 0.001 took ${Math.round(elapsed)} ms`);
});

test('time_scale multiplies scenario timers', async () => {
  const started = performance.now();
  const { result } = await runSmall(
    'VoxEngine.addEventListener(AppEvents.Started, function () { setTimeout(function () { VoxEngine.terminate(); }, 5000); });',
    { timeScale: 0.01 },
  );
  const elapsed = performance.now() - started;
  assert.equal(result.exitCode, EXIT.TERMINATED);
  assert.ok(elapsed >= 45 && elapsed < 1000, `a 5 s timer at 0.01 took ${Math.round(elapsed)} ms`);
});

test('Net.httpRequestAsync does real HTTP and resolves to {code, text, headers}', async () => {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(201, { 'X-Seen': `${req.method} ${req.headers['x-test']} ${Buffer.concat(chunks)}` }).end('created');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/x`;
  const refused = await unreachableUrl();
  try {
    const { result, sim } = await runSmall(`
      VoxEngine.addEventListener(AppEvents.Started, async function () {
        var ok = await Net.httpRequestAsync(${JSON.stringify(url)}, { method: "POST", headers: { "X-Test": "yes" }, postData: "hi", timeout: 5 });
        var seen = ok.headers.filter(function (h) { return h.key.toLowerCase() === "x-seen"; })[0].value;
        Logger.write("ok " + ok.code + " " + ok.text + " " + seen);
        var bad = await Net.httpRequestAsync(${JSON.stringify(refused)}, { method: "POST", postData: "hi" });
        Logger.write("refused " + bad.code);
        var malformed = await Net.httpRequestAsync("not a url");
        Logger.write("malformed " + malformed.code);
        VoxEngine.terminate();
      });
    `);
    assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
    const logs = sim.logs.join('\n');
    assert.match(logs, /ok 201 created POST yes hi/);
    assert.match(logs, /refused -4/);
    assert.match(logs, /malformed -2/);
  } finally {
    server.close();
  }
});

test('the access URL delivers AppEvents.HttpRequest with method, path, content, X- headers; the return value is the answer', async () => {
  let answer;
  const { result, sim } = await runSmall(
    `
    VoxEngine.addEventListener(AppEvents.HttpRequest, function (e) {
      Logger.write("request " + e.name + " " + e.method + " " + e.path + " " + e.content + " " + JSON.stringify(e.headers));
      setTimeout(function () { VoxEngine.terminate(); }, 10);
      return JSON.stringify({ got: e.content });
    });
    VoxEngine.addEventListener(AppEvents.Started, function (e) { Logger.write("started " + e.accessURL); });
  `,
    {
      during: async (s, accessUrl) => {
        answer = await new Promise((resolve, reject) => {
          const req = http.request(`${accessUrl}request/abc`, { method: 'PUT', headers: { 'X-Trace': 't1', Cookie: 'no' } }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
          });
          req.on('error', reject);
          req.end('payload');
        });
      },
    },
  );
  assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
  assert.deepEqual(answer, { status: 200, text: '{"got":"payload"}' });
  const logs = sim.logs.join('\n');
  assert.match(logs, /request Application\.HttpRequest PUT \/request\/abc payload \[\{"key":"X-Trace","value":"t1"\}\]/);
  assert.match(logs, /started http:\/\/127\.0\.0\.1:\d+\//);
});

test('a handler that terminates the session still has its answer delivered (the remote-session guide\'s pattern)', async () => {
  for (const how of ['sync', 'after']) {
    let answer;
    const { result } = await runSmall(
      `
      VoxEngine.addEventListener(AppEvents.HttpRequest, function (e) {
        if (e.content === "sync") {
          VoxEngine.terminate();
        } else {
          Promise.resolve().then(function () { VoxEngine.terminate(); });
        }
        return JSON.stringify({ ok: true, how: e.content });
      });
    `,
      {
        during: async (s, accessUrl) => {
          answer = await control(accessUrl, how);
        },
      },
    );
    assert.equal(result.exitCode, EXIT.TERMINATED, result.reason);
    assert.equal(answer.status, 200, how);
    assert.deepEqual(answer.json, { ok: true, how });
  }
});

test('after terminate the access URL no longer answers for the session', async () => {
  const sim = new Simulation({ scenarioSource: 'VoxEngine.addEventListener(AppEvents.Started, function () { VoxEngine.terminate(); });', timeScale: 0.01 });
  const { accessUrl } = await sim.start();
  sim.dispatchStarted();
  await sim.done;
  await assert.rejects(control(accessUrl, { action: 'hangup' }), /ECONNREFUSED/);
});
