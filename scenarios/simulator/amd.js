'use strict';
/**
 * A fake of VoxEngine's answering-machine detection: the global `AMD` namespace (voxengine.d.ts v28, `declare
 * namespace AMD`; Voximplant's voicemail-detection guide, voximplant.com/docs/guides/calls/voicemail-detection).
 *
 * What it keeps from the declarations:
 *   - AMD.create({model, timeout?, thresholds?}) returns an AnsweringMachineDetector; `model` is an AMD.Model value,
 *     `timeout` is in milliseconds, "must not be less than 0 or greater than 20000", default 6500, and "only
 *     triggered after the CallEvents.Connected event" (d.ts, AMDParameters.timeout).
 *   - The detector goes to the call as `amd` in VoxEngine.callPSTN's parameters (d.ts, CallPSTNParameters.amd).
 *   - It reports AMD.Events.DetectionComplete with {amd, call, callId, resultClass, resultSubtype?, confidence?}
 *     (resultClass HUMAN, VOICEMAIL, TIMEOUT or CALL_ENDED, "AMD detected a call hangup"), or
 *     AMD.Events.DetectionError with {amd, callId?, message} (d.ts, AMD._DetectionCompleteEvent and
 *     _DetectionErrorEvent).
 * What the simulator chooses (not documented): when each verdict comes (the call's scripted outcome, `amd` and
 * `amdAt` in outcomes.js; HUMAN 0.15 s after the answer unless it says otherwise: before the fake AI session is
 * ready, so the scripted conversations keep the timing they had without detection; a real detector takes longer),
 * the confidence (90), and, for CALL_ENDED, that the call's Disconnected comes first and the verdict right after it.
 */
const names = require('./names');
const { strictNamespace, unsupported } = require('./strict');

const MODEL_VALUES = new Set(Object.values(names.AMD_MODELS));
const EVENT_VALUES = new Set(Object.values(names.AMD_EVENTS));
const DEFAULT_TIMEOUT_MS = 6500; // d.ts, AMDParameters.timeout
const MAX_TIMEOUT_MS = 20000; // d.ts, AMDParameters.timeout
const DEFAULT_VERDICT_AT_MS = 150; // the simulator's: before the fake AI session exists (0.2 s), so no outcome slows down

/** Builds the `AMD` global for one simulation (`sim` as in openai.js). */
function createAMDModule(sim) {
  let seq = 0;
  const onError = (error) => sim.nameError(error);

  function create(parameters) {
    sim.api('AMD.create', [parameters]);
    if (!parameters || typeof parameters !== 'object') throw new TypeError('AMD.create: parameters must be an object');
    if (!MODEL_VALUES.has(parameters.model)) {
      throw new TypeError(`AMD.create: model must be an AMD.Model value; got ${JSON.stringify(parameters.model)}`);
    }
    const timeout = parameters.timeout === undefined ? DEFAULT_TIMEOUT_MS : parameters.timeout;
    if (typeof timeout !== 'number' || timeout < 0 || timeout > MAX_TIMEOUT_MS) {
      throw new RangeError(`AMD.create: timeout must be 0 to ${MAX_TIMEOUT_MS} ms; got ${JSON.stringify(timeout)}`);
    }
    seq += 1;
    return new FakeDetector(sim, `amd-${seq}`, parameters.model, timeout).proxy;
  }

  return strictNamespace(
    'AMD',
    {
      create,
      Events: strictNamespace('AMD.Events', names.AMD_EVENTS, onError),
      Model: strictNamespace('AMD.Model', names.AMD_MODELS, onError),
      ResultClass: strictNamespace('AMD.ResultClass', names.AMD_RESULT_CLASSES, onError),
      ResultSubtype: strictNamespace('AMD.ResultSubtype', names.AMD_RESULT_SUBTYPES, onError),
      ...unsupported('AMD', ['AnsweringMachineDetector'], onError),
    },
    onError,
  );
}

class FakeDetector {
  constructor(sim, id, model, timeout) {
    this.sim = sim;
    this.id = id;
    this.model = model;
    this.timeout = timeout;
    this.listeners = new Map();
    this.call = null;
    const onError = (error) => sim.nameError(error);
    const methods = {
      ...unsupported('AMD.AnsweringMachineDetector', names.AMD_DETECTOR_METHODS, onError),
      id: () => this.id,
      model,
      timeout,
      addEventListener: (event, callback) => {
        if (!EVENT_VALUES.has(event)) throw new TypeError(`AnsweringMachineDetector.addEventListener: ${String(event)} is not an AMD.Events value`);
        if (typeof callback !== 'function') throw new TypeError('AnsweringMachineDetector.addEventListener: callback must be a function');
        if (!this.listeners.has(event)) this.listeners.set(event, []);
        this.listeners.get(event).push(callback);
      },
      removeEventListener: (event, callback) => {
        const list = this.listeners.get(event) || [];
        this.listeners.set(event, callback ? list.filter((cb) => cb !== callback) : []);
      },
    };
    this.proxy = strictNamespace('AMD.AnsweringMachineDetector', methods, onError);
    sim.registerMediaUnit(this.proxy, { kind: 'amd', id, unit: this });
  }

  fire(event, extra) {
    const payload = { amd: this.proxy, callId: this.call ? this.call.id : undefined, ...extra };
    this.sim.timeline('amd', event, extra);
    for (const callback of [...(this.listeners.get(event) || [])]) this.sim.invoke(callback, [payload]);
  }

  /** Called by the call when it is answered: schedules the scripted verdict. */
  answered(call, outcome) {
    this.call = call;
    const kind = outcome.amd || 'HUMAN';
    if (kind === 'error') {
      call.at(outcome.amdAt || DEFAULT_VERDICT_AT_MS, () =>
        this.fire(names.AMD_EVENTS.DetectionError, { message: 'simulated: the detection service is unavailable' }),
      );
      return;
    }
    const at = kind === 'TIMEOUT' ? this.timeout : outcome.amdAt || DEFAULT_VERDICT_AT_MS;
    call.at(at, () => {
      if (kind === 'CALL_ENDED') call.disconnect(200, 'Normal call clearing');
      this.fire(names.AMD_EVENTS.DetectionComplete, {
        call: call.proxy,
        resultClass: kind,
        resultSubtype: 'NONE',
        confidence: 90,
      });
    });
  }
}

module.exports = { createAMDModule, DEFAULT_TIMEOUT_MS, DEFAULT_VERDICT_AT_MS };
