'use strict';
/**
 * A VoxEngine stand-in for tests and the sandbox. It runs a scenario file unchanged in an isolated `vm` context
 * whose only globals are VoxEngine's (VoxEngine, AppEvents, CallEvents, Net, Logger, Modules, require for
 * Modules, OpenAI after require(Modules.OpenAI), timers) plus the ECMAScript built-ins. Every namespace is a
 * strict Proxy: an unknown name throws and ends the simulation with exit code 3.
 *
 *   const sim = new Simulation({ scenarioPath, customData, secrets, timeScale });
 *   const { accessUrl } = await sim.start();   // access-URL listener up, scenario loaded
 *   sim.dispatchStarted();                      // AppEvents.Started
 *   const { exitCode } = await sim.done;        // 0 terminate, 3 uncaught error or broken limit, 4 ended for it
 *
 * time_scale multiplies every delay inside the context: scenario timers and scripted outcome delays alike.
 * Net timeouts stay in real seconds. VoxEngine's documented limits are enforced (limits.js names each source):
 * 3 HTTP requests in flight and 35 in all, no call for 60 s ends the session, terminate waits for requests in
 * flight, scenario size, 1 s per callback, 100 timers.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const vm = require('node:vm');
const { performance } = require('node:perf_hooks');

const names = require('./names');
const { strictNamespace, unsupported, UnknownNameError, NotSupportedError } = require('./strict');
const { OUTCOMES, outcomeFor, costFor } = require('./outcomes');
const { createOpenAIModule } = require('./openai');
const { createAMDModule } = require('./amd');
const { httpRequest } = require('./net');
const { LIMITS, NetLimiter } = require('./limits');

const DEFAULT_SCENARIO = path.resolve(__dirname, '..', 'outbound_call.js');
const DEFAULT_LIFETIME_S = 2 * 60 * 60; // the simulator's own cap on a session (a guard for tests), not VoxEngine's
const EXIT = { TERMINATED: 0, SCENARIO_ERROR: 3, LIFETIME_EXCEEDED: 4 };
const SECRET_KEY = /api[_-]?key|authorization|token|secret|password/i;
const APP_EVENT_VALUES = new Set(Object.values(names.APP_EVENTS));
const CALL_EVENT_VALUES = new Set(Object.values(names.CALL_EVENTS));

/** Simulations currently running, for attributing unhandled promise rejections raised inside a context. */
const active = new Set();
let rejectionHandlerInstalled = false;

function onUnhandledRejection(reason) {
  const owners = [...active].filter((sim) => sim.owns(reason));
  const owner = owners[0] || (active.size === 1 ? [...active][0] : null);
  if (owner) {
    owner.fail(reason, 'unhandled promise rejection');
    return;
  }
  process.nextTick(() => {
    throw reason;
  });
}

function track(sim, on) {
  if (on) active.add(sim);
  else active.delete(sim);
  if (active.size > 0 && !rejectionHandlerInstalled) {
    process.on('unhandledRejection', onUnhandledRejection);
    rejectionHandlerInstalled = true;
  } else if (active.size === 0 && rejectionHandlerInstalled) {
    process.off('unhandledRejection', onUnhandledRejection);
    rejectionHandlerInstalled = false;
  }
}

let simulationSeq = 0;

class Simulation {
  /**
   * @param {object} options
   * @param {string} [options.scenarioPath]   scenario file (default: scenarios/outbound_call.js)
   * @param {string} [options.scenarioSource] scenario text instead of a file
   * @param {string} [options.customData]     what VoxEngine.customData() returns (script_custom_data)
   * @param {object} [options.secrets]        name -> value, for VoxEngine.getSecretValue
   * @param {number} [options.timeScale]      multiplies every delay in the context (default 1)
   * @param {number} [options.lifetimeS]      session lifetime cap in simulated seconds (default 2 h)
   * @param {function} [options.onApi]        called with each API record {api, args?}
   * @param {function} [options.onLog]        called with each Logger.write message and simulator note
   */
  constructor(options = {}) {
    this.id = ++simulationSeq;
    this.scenarioPath = options.scenarioSource ? options.scenarioPath || 'scenario.js' : options.scenarioPath || DEFAULT_SCENARIO;
    this.scenarioSource = options.scenarioSource;
    this.customDataValue = options.customData === undefined ? '' : String(options.customData);
    checkCustomData(this.customDataValue, 'script_custom_data');
    this.secrets = { ...(options.secrets || {}) };
    this.timeScale = options.timeScale === undefined ? 1 : Number(options.timeScale);
    if (!(this.timeScale > 0) || !Number.isFinite(this.timeScale)) {
      throw new RangeError(`timeScale must be a positive number, got ${options.timeScale}`);
    }
    this.lifetimeS = options.lifetimeS || DEFAULT_LIFETIME_S;
    this.onApi = options.onApi || (() => {});
    this.onLog = options.onLog || (() => {});

    this.apiCalls = [];
    this.events = []; // {t, kind, name, detail}: API calls and every event the simulator fired, in order
    this.logs = [];
    this.ended = false;
    this.hostTimers = new Set();
    this.scenarioTimers = new Map();
    this.timerSeq = 0;
    this.appListeners = new Map();
    this.mediaUnits = new WeakMap();
    this.calls = [];
    this.bridges = []; // [call id, call id] for each VoxEngine.sendMediaBetween of two calls (a join)
    this.openaiClients = [];
    this.liveCalls = 0;
    this.noCallCancel = null;
    this.terminating = false;
    this.net = new NetLimiter((url, options) => httpRequest(url, options));
    this.server = null;
    this.longestCallbackMs = 0; // the longest single callback so far, real ms (see checkCallbackTime)
    this.answering = new Set(); // access-URL answers under way (see closeListener)
    this.onAnswered = null;
    this.t0 = performance.now();
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------------------

  /** Starts the access-URL listener and loads the scenario (its top-level code runs). */
  async start() {
    track(this, true);
    await this.listen();
    this.lifetimeCancel = this.after(this.lifetimeS * 1000, () =>
      this.end(EXIT.LIFETIME_EXCEEDED, `no VoxEngine.terminate() within the ${this.lifetimeS} s session lifetime`),
    );
    this.buildContext();
    try {
      const source = this.scenarioSource !== undefined ? this.scenarioSource : fs.readFileSync(this.scenarioPath, 'utf8');
      const chars = [...source].length;
      if (chars > LIMITS.SCENARIO_CHARS) {
        // Limits page: "JavaScript scenario size is limited to 256*1024 Unicode chars" (see limits.js).
        throw new RangeError(`the scenario is ${chars} characters; VoxEngine takes at most ${LIMITS.SCENARIO_CHARS} (256×1024)`);
      }
      new vm.Script(source, { filename: this.scenarioPath }).runInContext(this.context);
    } catch (error) {
      this.fail(error, 'error while loading the scenario');
    }
    return { accessUrl: this.accessUrl, accessSecureUrl: this.accessUrl };
  }

  /** Fires AppEvents.Started, as VoxEngine does when StartScenarios starts the session. */
  dispatchStarted() {
    this.startNoCallClock();
    this.dispatchApp(names.APP_EVENTS.Started, {
      name: names.APP_EVENTS.Started,
      accessURL: this.accessUrl,
      accessSecureURL: this.accessUrl,
      accountId: 1,
      applicationId: 1,
      logURL: '',
      sessionId: this.id,
      conference_name: '',
    });
  }

  /** start() then dispatchStarted(); resolves with the outcome of the whole session. */
  async run() {
    await this.start();
    if (!this.ended) this.dispatchStarted();
    return this.done;
  }

  /** Stops everything (used by tests on teardown); a session still running ends with exit code 4. */
  async stop() {
    this.end(EXIT.LIFETIME_EXCEEDED, 'stopped by the host');
    await this.done;
  }

  end(exitCode, reason, error) {
    if (this.ended) return;
    this.ended = true;
    this.terminating = true;
    for (const handle of this.hostTimers) clearTimeout(handle);
    this.hostTimers.clear();
    for (const handle of this.scenarioTimers.values()) clearTimeout(handle);
    this.scenarioTimers.clear();
    for (const client of this.openaiClients) client.cancelAll();
    const closed = this.server ? this.closeListener() : Promise.resolve();
    track(this, false);
    this.note(`session ended: exit code ${exitCode} (${reason})`);
    closed.then(() => this.resolveDone({ exitCode, reason, error: error || null }));
  }

  /** An error the scenario did not handle (or a VoxEngine name it got wrong): exit code 3. */
  fail(error, context) {
    if (this.ended) return;
    this.uncaughtError = error;
    const text = error && error.stack ? error.stack : String(error);
    this.note(`scenario error (${context || 'uncaught'}): ${text}`);
    this.end(EXIT.SCENARIO_ERROR, `${context || 'uncaught error'}: ${error && error.message ? error.message : error}`, error);
  }

  /** Whether an unhandled rejection reason comes from this simulation's context. */
  owns(reason) {
    return Boolean(
      reason && typeof reason === 'object' && (reason instanceof this.ctxError || reason.simulationId === this.id),
    );
  }

  /** True once the session is ending (terminate called, or VoxEngine ended it): no more call or AI events. */
  isEnded() {
    return this.terminating;
  }

  // -------------------------------------------------------------------------------------------------------
  // Clock, timers, invocation
  // -------------------------------------------------------------------------------------------------------

  /** Simulated milliseconds since the simulation was created. */
  now() {
    return (performance.now() - this.t0) / this.timeScale;
  }

  /** Runs fn after simMs simulated milliseconds; returns a cancel function. */
  after(simMs, fn) {
    if (this.terminating) return () => {};
    const handle = setTimeout(() => {
      this.hostTimers.delete(handle);
      if (!this.ended) fn();
    }, Math.max(0, simMs * this.timeScale));
    this.hostTimers.add(handle);
    return () => {
      clearTimeout(handle);
      this.hostTimers.delete(handle);
    };
  }

  /** Calls scenario code; an exception it throws ends the simulation with exit code 3. */
  invoke(fn, args = []) {
    if (this.ended) return undefined;
    const outer = this.callbackStartedAt;
    if (outer === undefined) this.callbackStartedAt = performance.now();
    try {
      return fn(...args);
    } catch (error) {
      this.fail(error);
      return undefined;
    } finally {
      this.checkCallbackTime();
      if (outer === undefined) this.callbackStartedAt = undefined;
    }
  }

  /** Limits page: "Callback execution time is limited to 1 second" (see limits.js). Real time, not scaled. */
  checkCallbackTime() {
    if (this.callbackStartedAt === undefined) return;
    const ms = performance.now() - this.callbackStartedAt;
    if (ms > this.longestCallbackMs) this.longestCallbackMs = ms; // for tests: how far under the limit
    if (ms > LIMITS.CALLBACK_MS) {
      this.fail(new RangeError(`a callback ran ${Math.round(ms)} ms; VoxEngine limits one callback to ${LIMITS.CALLBACK_MS} ms`), 'callback time limit');
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // VoxEngine's session rules: no call for 60 s ends the session; terminate waits for HTTP requests in flight
  // -------------------------------------------------------------------------------------------------------

  /** Limits page: a session without calls is terminated in 60 s (see limits.js). Runs while no call is live. */
  startNoCallClock() {
    if (this.noCallCancel || this.terminating) return;
    this.noCallCancel = this.after(LIMITS.NO_CALL_SESSION_S * 1000, () => {
      this.noCallCancel = null;
      this.note(`VoxEngine ends the session: no call for ${LIMITS.NO_CALL_SESSION_S} s`);
      this.beginTermination(EXIT.LIFETIME_EXCEEDED, `VoxEngine ended the session: no call for ${LIMITS.NO_CALL_SESSION_S} s and no VoxEngine.terminate()`);
    });
  }

  stopNoCallClock() {
    if (this.noCallCancel) this.noCallCancel();
    this.noCallCancel = null;
  }

  callStarted() {
    this.liveCalls += 1;
    this.stopNoCallClock();
  }

  callEnded() {
    this.liveCalls -= 1;
    if (this.liveCalls === 0) this.startNoCallClock();
  }

  /**
   * The session ends (terminate, or VoxEngine's own rules). Limits page (see limits.js): before Terminating,
   * VoxEngine waits up to 90 s for HTTP requests in flight and runs their callbacks; queued requests are dropped.
   * The simulator stops the scenario's timers at once (they are "not available" once Terminating fires; a scenario
   * must not count on them while the last requests finish), then fires Terminating and Terminated and ends.
   */
  beginTermination(exitCode, reason) {
    if (this.terminating || this.ended) return;
    this.terminating = true;
    this.stopNoCallClock();
    for (const handle of this.hostTimers) clearTimeout(handle);
    this.hostTimers.clear();
    for (const handle of this.scenarioTimers.values()) clearTimeout(handle);
    this.scenarioTimers.clear();
    for (const call of this.calls) call.cancelScript();
    for (const client of this.openaiClients) client.cancelAll();
    const dropped = this.net.dropWaiting();
    if (dropped > 0) this.note(`${dropped} queued HTTP request(s) dropped at terminate`);
    const finish = () => {
      if (this.ended) return;
      clearTimeout(drainTimer);
      this.dispatchApp(names.APP_EVENTS.Terminating, { name: names.APP_EVENTS.Terminating });
      this.dispatchApp(names.APP_EVENTS.Terminated, { name: names.APP_EVENTS.Terminated });
      this.end(exitCode, reason);
    };
    let drainTimer = null;
    if (this.net.running === 0) {
      finish();
      return;
    }
    this.note(`waiting for ${this.net.running} HTTP request(s) in flight (up to ${LIMITS.NET_DRAIN_S} s)`);
    this.net.onIdle = finish;
    drainTimer = setTimeout(finish, LIMITS.NET_DRAIN_S * 1000 * this.timeScale);
  }

  promise(executor) {
    return new this.ctxPromise(executor);
  }

  makeError(message) {
    return new this.ctxError(message);
  }

  nameError(error) {
    error.simulationId = this.id;
    // Let the throw reach the scenario first, then end: a wrong name must not go unnoticed even if caught.
    queueMicrotask(() => this.fail(error, error instanceof UnknownNameError ? 'unknown VoxEngine name' : 'unsupported'));
  }

  scenarioTimer(repeat) {
    return (fn, ms, ...args) => {
      if (typeof fn !== 'function') throw new TypeError(`${repeat ? 'setInterval' : 'setTimeout'}: callback is not a function`);
      if (this.terminating) return 0;
      if (this.scenarioTimers.size >= LIMITS.ACTIVE_TIMERS) {
        // Limits page: "The maximum number of active timers is 100" (see limits.js).
        const error = new RangeError(`more than ${LIMITS.ACTIVE_TIMERS} active timers; VoxEngine allows ${LIMITS.ACTIVE_TIMERS}`);
        this.nameError(error);
        throw error;
      }
      const id = ++this.timerSeq;
      const delay = Math.max(0, Number(ms) || 0) * this.timeScale;
      const tick = () => {
        if (!repeat) this.scenarioTimers.delete(id);
        this.invoke(fn, args);
      };
      this.scenarioTimers.set(id, repeat ? setInterval(tick, Math.max(1, delay)) : setTimeout(tick, delay));
      return id;
    };
  }

  clearScenarioTimer(id) {
    const handle = this.scenarioTimers.get(id);
    if (handle !== undefined) {
      clearTimeout(handle);
      clearInterval(handle);
      this.scenarioTimers.delete(id);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Records
  // -------------------------------------------------------------------------------------------------------

  api(name, args) {
    const record = { api: name };
    if (args !== undefined) record.args = this.redact(args);
    this.apiCalls.push(record);
    this.timeline('api', name, record.args);
    if (!this.ended) this.onApi(record);
  }

  timeline(kind, name, detail) {
    this.events.push({ t: Math.round(this.now()), kind, name, detail });
  }

  note(message) {
    this.logs.push(`[simulator] ${message}`);
    this.onLog(`[simulator] ${message}`);
  }

  /** A JSON-safe copy with secrets replaced by "***", media units by a descriptor, functions by "[Function]". */
  redact(value, key) {
    if (typeof key === 'string' && SECRET_KEY.test(key) && value !== undefined && value !== null) return '***';
    if (typeof value === 'function') return '[Function]';
    if (value === null || typeof value !== 'object') return value;
    const unit = this.mediaUnits.get(value);
    if (unit) return `[${unit.kind} ${unit.id}]`;
    if (Array.isArray(value)) return value.map((item) => this.redact(item));
    const copy = {};
    for (const k of Object.keys(value)) copy[k] = this.redact(value[k], k);
    return copy;
  }

  registerMediaUnit(proxy, descriptor) {
    this.mediaUnits.set(proxy, descriptor);
    if (descriptor.kind === 'openai') this.openaiClients.push(descriptor.unit);
  }

  // -------------------------------------------------------------------------------------------------------
  // The context and its globals
  // -------------------------------------------------------------------------------------------------------

  buildContext() {
    const onError = (error) => this.nameError(error);
    const strict = (ns, members) => strictNamespace(ns, members, onError);
    const supportedVox = {
      addEventListener: (event, callback) => this.addAppListener(event, callback),
      removeEventListener: (event, callback) => this.removeAppListener(event, callback),
      customData: (value) => {
        this.api('customData');
        if (value !== undefined) {
          checkCustomData(String(value), 'VoxEngine.customData');
          this.customDataValue = String(value);
        }
        return this.customDataValue;
      },
      getSecretValue: (name) => {
        this.api('getSecretValue', [name]);
        const value = this.secrets[name];
        return typeof value === 'string' ? value : undefined;
      },
      callPSTN: (number, callerid, parameters) => {
        this.api('callPSTN', parameters === undefined ? [number, callerid] : [number, callerid, parameters]);
        requireString('VoxEngine.callPSTN', 'number', number);
        requireString('VoxEngine.callPSTN', 'callerid', callerid);
        // CallPSTNParameters.amd (d.ts): an answering-machine detector made by AMD.create.
        const detector = parameters && typeof parameters === 'object' ? this.mediaUnits.get(parameters.amd) : null;
        if (parameters && parameters.amd !== undefined && (!detector || detector.kind !== 'amd')) {
          throw new TypeError('VoxEngine.callPSTN: parameters.amd must be an AMD.AnsweringMachineDetector (AMD.create)');
        }
        return this.dial('pstn', number, callerid, detector ? detector.unit : null);
      },
      callSIP: (to, parameters) => {
        this.api('callSIP', parameters === undefined ? [to] : [to, parameters]);
        requireString('VoxEngine.callSIP', 'to', to);
        const callerid = parameters && typeof parameters === 'object' ? parameters.callerid : parameters;
        return this.dial('sip', to, callerid);
      },
      callUser: (parameters) => {
        this.api('callUser', [parameters]);
        requireObject('VoxEngine.callUser', parameters);
        requireString('VoxEngine.callUser', 'parameters.username', parameters.username);
        requireString('VoxEngine.callUser', 'parameters.callerid', parameters.callerid);
        return this.dial('user', parameters.username, parameters.callerid);
      },
      callWhatsappUser: (parameters) => {
        this.api('callWhatsappUser', [parameters]);
        requireObject('VoxEngine.callWhatsappUser', parameters);
        requireString('VoxEngine.callWhatsappUser', 'parameters.number', parameters.number);
        requireString('VoxEngine.callWhatsappUser', 'parameters.callerid', parameters.callerid);
        return this.dial('whatsapp', parameters.number, parameters.callerid);
      },
      sendMediaBetween: (unit1, unit2) => {
        this.api('sendMediaBetween');
        const a = this.mediaUnits.get(unit1);
        const b = this.mediaUnits.get(unit2);
        if (!a || !b) throw new TypeError('VoxEngine.sendMediaBetween: both arguments must be media units (Call, clients)');
        for (const side of [a, b]) if (side.kind === 'openai') side.unit.mediaBridged();
        // d.ts VoxEngine.sendMediaBetween: "binds two audio/video streams"; two calls so bound hear each other.
        if (a.kind === 'call' && b.kind === 'call') {
          this.bridges.push([a.id, b.id]);
          this.timeline('media', 'bridged', { calls: [a.id, b.id] });
        }
      },
      // d.ts VoxEngine.stopMediaBetween(mediaUnit1, mediaUnit2): "Stops sending media between" them.
      stopMediaBetween: (unit1, unit2) => {
        this.api('stopMediaBetween');
        if (!this.mediaUnits.get(unit1) || !this.mediaUnits.get(unit2)) {
          throw new TypeError('VoxEngine.stopMediaBetween: both arguments must be media units (Call, clients)');
        }
      },
      terminate: () => this.terminate(),
    };
    const vox = { ...unsupported('VoxEngine', names.VOXENGINE_FUNCTIONS, onError), ...supportedVox };

    const net = {
      ...unsupported('Net', names.NET_FUNCTIONS, onError),
      httpRequestAsync: (url, options) => {
        this.api('httpRequestAsync', options === undefined ? [url] : [url, options]);
        if (this.terminating) return this.promise(() => {});
        return this.promise((resolve) => {
          // At most 3 in flight, 35 in all, per session (limits page; see limits.js and NetLimiter).
          this.net.request(url, options || {}).then((result) => {
            if (!this.ended) resolve(result);
            // Terminating waits for the last request in flight and its callbacks (they run as promise reactions).
            if (this.terminating && this.net.running === 0 && this.net.onIdle) setImmediate(this.net.onIdle);
          });
        });
      },
    };

    const logger = {
      ...unsupported('Logger', names.LOGGER_FUNCTIONS, onError),
      write: (message) => {
        const line = String(message);
        this.logs.push(line);
        this.onLog(line);
      },
    };

    this.sandbox = {
      VoxEngine: strict('VoxEngine', vox),
      AppEvents: strict('AppEvents', names.APP_EVENTS),
      CallEvents: strict('CallEvents', names.CALL_EVENTS),
      Net: strict('Net', net),
      Logger: strict('Logger', logger),
      Modules: strict('Modules', names.MODULES),
      require: (module) => this.requireModule(module),
      // A global namespace in the d.ts (`declare namespace AMD`), with no Modules member to require: see amd.js.
      AMD: createAMDModule(this),
      setTimeout: this.scenarioTimer(false),
      setInterval: this.scenarioTimer(true),
      clearTimeout: (id) => this.clearScenarioTimer(id),
      clearInterval: (id) => this.clearScenarioTimer(id),
    };
    this.context = vm.createContext(this.sandbox, { name: `VoxEngine scenario ${this.id}` });
    // V8 gives every context a `console`; VoxEngine has none (scenarios log with Logger.write).
    vm.runInContext('delete globalThis.console;', this.context);
    this.ctxPromise = vm.runInContext('Promise', this.context);
    this.ctxError = vm.runInContext('Error', this.context);
  }

  requireModule(module) {
    const known = Object.values(names.MODULES);
    if (!known.includes(module)) {
      throw new TypeError(`require() in VoxEngine takes a Modules.* value (one of ${known.join(', ')}); got ${JSON.stringify(module)}`);
    }
    if (module === names.MODULES.OpenAI) {
      if (!this.sandbox.OpenAI) this.sandbox.OpenAI = createOpenAIModule(this);
      return;
    }
    this.note(`require(${JSON.stringify(module)}): module loaded but not simulated`);
  }

  addAppListener(event, callback) {
    if (!APP_EVENT_VALUES.has(event)) throw new TypeError(`VoxEngine.addEventListener: ${String(event)} is not an AppEvents value`);
    if (typeof callback !== 'function') throw new TypeError('VoxEngine.addEventListener: callback must be a function');
    if (!this.appListeners.has(event)) this.appListeners.set(event, []);
    this.appListeners.get(event).push(callback);
  }

  removeAppListener(event, callback) {
    const list = this.appListeners.get(event) || [];
    this.appListeners.set(event, callback ? list.filter((cb) => cb !== callback) : []);
  }

  /** Calls every listener of an AppEvents value; returns the last value a listener returned. */
  dispatchApp(event, payload) {
    this.timeline('event', event);
    let result;
    for (const callback of [...(this.appListeners.get(event) || [])]) {
      const value = this.invoke(callback, [payload]);
      if (value !== undefined) result = value;
    }
    return result;
  }

  terminate() {
    this.api('terminate');
    this.checkCallbackTime(); // a callback that overran, then terminated, still broke the limit
    this.beginTermination(EXIT.TERMINATED, 'VoxEngine.terminate()');
  }

  outcomeOfCurrentCall() {
    const call = this.calls[this.calls.length - 1];
    return call ? call.outcome : null;
  }

  // -------------------------------------------------------------------------------------------------------
  // Calls
  // -------------------------------------------------------------------------------------------------------

  dial(channel, destination, callerid, detector = null) {
    const call = new SimCall(this, `call-${this.id}-${this.calls.length + 1}`, channel, destination, callerid);
    call.detector = detector;
    this.calls.push(call);
    this.callStarted();
    call.script();
    return call.proxy;
  }

  // -------------------------------------------------------------------------------------------------------
  // The access URL
  // -------------------------------------------------------------------------------------------------------

  listen() {
    this.server = http.createServer((req, res) => this.onAccessRequest(req, res));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.accessUrl = `http://127.0.0.1:${this.server.address().port}/`;
        resolve();
      });
    });
  }

  /**
   * Stops listening. An answer the session has already given (its handler returned, even if it ended the session:
   * Voximplant's remote-session guide, voximplant.com/docs/guides/voxengine/remote, "Stopping the scenario", ends the
   * session inside the HttpRequest handler) still goes out; then every connection is closed. What VoxEngine does with
   * that answer is not documented: delivering it is the simulator's choice (see README). Waits at most 1 s (real).
   */
  closeListener() {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      const closeAll = () => {
        clearTimeout(cap);
        this.server.closeAllConnections();
      };
      const cap = setTimeout(closeAll, 1000);
      if (this.answering.size === 0) {
        closeAll();
        return;
      }
      this.onAnswered = () => {
        if (this.answering.size === 0) closeAll();
      };
    });
  }

  onAccessRequest(req, res) {
    this.answering.add(res);
    const answered = () => {
      if (!this.answering.delete(res)) return;
      if (this.onAnswered) this.onAnswered();
    };
    res.on('finish', answered);
    res.on('close', answered);
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (this.terminating) {
        res.writeHead(410, { 'Content-Type': 'text/plain' }).end('session terminated');
        return;
      }
      // d.ts _HttpRequestEvent: method, path, content, and headers as [{key, value}], only "the ones starting with X-".
      // The handler's return value as the answer: not in Voximplant's pages; the community definitions
      // (@ama-team/voxengine-definitions, AppEvents) say a string is sent as is, anything else as JSON (see README).
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (/^x-/i.test(req.rawHeaders[i])) headers.push({ key: req.rawHeaders[i], value: req.rawHeaders[i + 1] });
      }
      const event = {
        name: names.APP_EVENTS.HttpRequest,
        method: req.method,
        path: req.url,
        content: Buffer.concat(chunks).toString('utf8'),
        headers,
      };
      const failedBefore = this.ended;
      const answer = this.dispatchApp(names.APP_EVENTS.HttpRequest, event);
      if (!failedBefore && this.ended && this.uncaughtError) {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('scenario error');
        return;
      }
      if (answer && typeof answer.then === 'function') {
        this.note('AppEvents.HttpRequest handler returned a Promise; VoxEngine does not await it, answering empty');
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('');
      } else if (answer === undefined || answer === null) {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('');
      } else if (typeof answer === 'string' || typeof answer === 'number') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(String(answer));
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
      }
    });
  }
}

class SimCall {
  constructor(sim, id, channel, destination, callerid) {
    this.sim = sim;
    this.id = id;
    this.channel = channel;
    this.destination = String(destination);
    this.callerid = callerid === undefined ? '' : String(callerid);
    this.outcomeName = outcomeFor(channel, destination);
    this.outcome = OUTCOMES[this.outcomeName];
    this.state = 'PROGRESSING';
    this.listeners = new Map();
    this.cancels = [];
    this.connectedAt = null;
    const getters = {
      id: () => this.id,
      state: () => this.state,
      toString: () => `Call ${this.id}`,
      customData: () => '',
      incoming: () => false,
      callerid: () => this.callerid,
      displayName: () => '',
      number: () => this.destination,
      vad: () => false,
      clientType: () => (channel === 'pstn' ? 'pstn' : channel),
    };
    const methods = {
      ...unsupported('Call', names.CALL_METHODS, (error) => sim.nameError(error)),
      ...getters,
      addEventListener: (event, callback) => this.addEventListener(event, callback),
      removeEventListener: (event, callback) => this.removeEventListener(event, callback),
      hangup: () => {
        sim.api('hangup');
        this.hangup();
      },
      sendMediaTo: (unit) => {
        sim.api('sendMediaTo', [unit]);
        const target = sim.mediaUnits.get(unit);
        if (target && target.kind === 'openai') target.unit.mediaBridged();
      },
      stopMediaTo: (unit) => sim.api('stopMediaTo', [unit]),
      record: (parameters) => {
        sim.api('record', [parameters]);
        requireObject('Call.record', parameters);
        this.record();
      },
      enableBeepDetection: (parameters) => {
        sim.api('enableBeepDetection', [parameters]);
        requireObject('Call.enableBeepDetection', parameters);
        this.beepDetection(parameters);
      },
      disableBeepDetection: () => {
        sim.api('disableBeepDetection');
        this.cancelBeep();
      },
      // d.ts Call.sendDigits(digits: string): "Any combination of 0-9, *, #, p (pause) symbols".
      sendDigits: (digits) => {
        sim.api('sendDigits', [digits]);
        if (typeof digits !== 'string' || !/^[0-9*#p]+$/.test(digits)) {
          throw new TypeError(`Call.sendDigits: ${JSON.stringify(digits)} is not a combination of 0-9, *, # and p`);
        }
      },
    };
    this.proxy = strictNamespace('Call', methods, (error) => sim.nameError(error));
    sim.registerMediaUnit(this.proxy, { kind: 'call', id, unit: this });
  }

  addEventListener(event, callback) {
    if (!CALL_EVENT_VALUES.has(event)) throw new TypeError(`Call.addEventListener: ${String(event)} is not a CallEvents value`);
    if (typeof callback !== 'function') throw new TypeError('Call.addEventListener: callback must be a function');
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(callback);
  }

  removeEventListener(event, callback) {
    const list = this.listeners.get(event) || [];
    this.listeners.set(event, callback ? list.filter((cb) => cb !== callback) : []);
  }

  at(simMs, fn) {
    this.cancels.push(this.sim.after(simMs, fn));
  }

  cancelScript() {
    for (const cancel of this.cancels) cancel();
    this.cancels = [];
  }

  fire(eventName, extra = {}) {
    const event = { call: this.proxy, name: eventName, id: this.id, headers: {}, ...extra };
    this.sim.timeline('event', eventName, extra);
    for (const callback of [...(this.listeners.get(eventName) || [])]) this.sim.invoke(callback, [event]);
  }

  /** Schedules the events of this call's scripted outcome. */
  script() {
    const o = this.outcome;
    this.sim.note(`dialling ${this.channel} ${this.destination}: outcome "${this.outcomeName}"`);
    if (o.ringingAt !== null && o.ringingAt !== undefined) {
      this.at(o.ringingAt, () => {
        this.state = 'RINGING';
        this.fire(names.CALL_EVENTS.Ringing);
      });
    }
    if (o.ringingAgainAt !== undefined) this.at(o.ringingAgainAt, () => this.fire(names.CALL_EVENTS.Ringing));
    if (o.failAt !== undefined) {
      this.at(o.failAt, () => this.failWith(o.code, o.reason));
    }
    if (o.answerAt !== undefined) {
      this.at(o.answerAt, () => {
        this.state = 'CONNECTED';
        this.connectedAt = this.sim.now();
        this.fire(names.CALL_EVENTS.Connected, { customData: '' });
        if (this.detector) this.detector.answered(this, o);
        if (o.hangupAfter) this.at(o.hangupAfter, () => this.disconnect(200, 'Normal call clearing', o.hangupAfter));
      });
    }
  }

  failWith(code, reason) {
    if (this.state === 'ENDED') return;
    this.state = 'ENDED';
    this.cancelScript();
    this.sim.callEnded();
    this.fire(names.CALL_EVENTS.Failed, { code, reason });
  }

  /** Ends a connected call. `scriptedMs`: how long the outcome says it lasted (the callee hangs up then), reported as
   * is, so that a loaded machine's late timer does not lengthen it; otherwise the simulated time since the answer. */
  disconnect(internalCode, reason, scriptedMs) {
    if (this.state === 'ENDED') return;
    this.state = 'ENDED';
    this.cancelScript();
    this.sim.callEnded();
    for (const client of this.sim.openaiClients) client.mediaEnded();
    const elapsed = scriptedMs === undefined ? this.sim.now() - this.connectedAt : scriptedMs;
    const duration = Math.round(elapsed / 1000);
    // The fields of d.ts _DisconnectedEvent (duration in seconds, cost in the account's currency, internalCode,
    // reason, direction). The cost rate is the simulator's own (outcomes.js COST_PER_MINUTE).
    this.fire(names.CALL_EVENTS.Disconnected, {
      internalCode,
      reason,
      duration,
      cost: costFor(duration),
      direction: this.channel,
    });
    if (this.recordingUrl) {
      // d.ts, CallEvents.RecordStopped: "This happens after the [CallEvents.Disconnected] event" ({url, cost,
      // duration}; the cost here is the simulator's).
      this.fire(names.CALL_EVENTS.RecordStopped, { url: this.recordingUrl, cost: '0.0000', duration });
    }
  }

  /** Call.record: CallEvents.RecordStarted with the record's URL (d.ts, _RecordStartedEvent.url: "Link to the record
   * file"). The URL's form is the simulator's: the d.ts documents none. Records only a connected call. */
  record() {
    if (this.state !== 'CONNECTED' || this.recordingUrl) return;
    this.recordingUrl = `https://records.simulator.invalid/${this.sim.id}/${this.id}.mp3`;
    this.at(100, () => this.fire(names.CALL_EVENTS.RecordStarted, { url: this.recordingUrl }));
  }

  /** Call.enableBeepDetection: CallEvents.BeepDetectionComplete with the frequencies heard (d.ts,
   * _BeepDetectionComplete: frequencies?, timeout?). The outcome's `beepAfter` says when a beep sounds (1000 Hz, the
   * simulator's choice); without one, the detection times out (`timeout: true`) after the parameters' timeout. */
  beepDetection(parameters) {
    this.cancelBeep();
    const after = this.outcome.beepAfter;
    const timeout = typeof parameters.timeout === 'number' ? parameters.timeout : null;
    if (after !== undefined && (timeout === null || after <= timeout)) {
      this.beepCancel = this.sim.after(after, () => this.fire(names.CALL_EVENTS.BeepDetectionComplete, { frequencies: [1000] }));
    } else if (timeout !== null) {
      this.beepCancel = this.sim.after(timeout, () => this.fire(names.CALL_EVENTS.BeepDetectionComplete, { timeout: true }));
    }
    this.keepBeep();
  }

  cancelBeep() {
    if (this.beepCancel) this.beepCancel();
    this.beepCancel = null;
  }

  /** A scripted beep dies with the call, like the rest of its script. */
  keepBeep() {
    if (this.beepCancel) this.cancels.push(this.beepCancel);
  }

  /** Call.hangup(): Failed 487 before the answer, Disconnected after it (d.ts, Call.hangup: "CallEvents.Disconnected
   * if the call is active before hangup", "CallEvents.Failed if it is an outgoing call that is not connected").
   * 487 "Request Terminated" is the simulator's choice (not documented for this case; see README). */
  hangup() {
    if (this.state === 'ENDED' || this.hangingUp) return;
    this.hangingUp = true;
    this.cancelScript();
    if (this.state === 'CONNECTED') {
      this.at(50, () => this.disconnect(200, 'Normal call clearing'));
    } else {
      this.at(50, () => this.failWith(487, 'Request Terminated'));
    }
  }
}

/** Limits (see limits.js): custom data holds at most 200 bytes; Voximplant refuses more (StartScenarios). */
function checkCustomData(value, where) {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > LIMITS.CUSTOM_DATA_BYTES) {
    throw new RangeError(`${where} is ${bytes} bytes; Voximplant keeps at most ${LIMITS.CUSTOM_DATA_BYTES}`);
  }
}

function requireString(fn, name, value) {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${fn}: ${name} must be a non-empty string`);
}

function requireObject(fn, value) {
  if (!value || typeof value !== 'object') throw new TypeError(`${fn}: parameters must be an object`);
}

module.exports = {
  Simulation,
  SimCall,
  EXIT,
  DEFAULT_SCENARIO,
  OUTCOMES,
  outcomeFor,
  UnknownNameError,
  NotSupportedError,
};
