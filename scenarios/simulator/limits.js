'use strict';
/**
 * The VoxEngine limits the simulator enforces, each with the document that states it. "Limits page" is
 * voximplant.com/docs/guides/voxengine/limits ("Limits and restrictions"); the same list is at
 * voximplant.com/docs/howtos/integration/httpapi/restrictions. "d.ts" is Voximplant's typings/voxengine.d.ts
 * (voximplant/voxengine-ci, version 28).
 */

const LIMITS = {
  // Custom data holds at most 200 bytes: the custom-data guide (voximplant.com/docs/howtos/calls/custom_data) and the
  // d.ts (VoxEngine.customData: "Maximum size is 200 bytes"). UTF-8 bytes.
  CUSTOM_DATA_BYTES: 200,
  // Limits page: "A session without calls and without ACD requests is terminated in 60 seconds." Counted again
  // once the last call ends: d.ts, Call.hangup: "If there are no other active calls and/or SmartQueue requests in
  // the call session, the [AppEvents.Terminating] and [AppEvents.Terminated] events are triggered in 60 seconds".
  NO_CALL_SESSION_S: 60,
  // Limits page: "JavaScript scenario size is limited to 256*1024 Unicode chars."
  SCENARIO_CHARS: 256 * 1024,
  // Limits page: "Callback execution time is limited to 1 second."
  CALLBACK_MS: 1000,
  // Limits page: "The maximum number of active timers is 100."
  ACTIVE_TIMERS: 100,
  // Limits page: "The maximum number of active HTTP requests is 3. Requests over the limit are queued, up to the
  // total HTTP requests limit."
  NET_ACTIVE: 3,
  // Limits page: "The maximum number of simultaneous HTTP requests is 35. The limit includes both pending and
  // queued requests."
  NET_TOTAL: 35,
  // Limits page: "Before the 'Terminating' event is triggered, VoxEngine will wait up to 90 seconds for pending
  // requests to complete and will execute corresponding callback functions. The rest queued requests are silently
  // dropped without any callback function execution."
  NET_DRAIN_S: 90,
};

// What a request beyond NET_TOTAL gets. The limits page says initiating more "will result in 'Exceeded the HTTP
// connection count limit!' exception"; the d.ts documents Net.HttpRequestResult.code 0 as "Voxengine limits are
// violated (e.g. HTTP request count exceeded)". For Net.httpRequestAsync the simulator resolves with code 0 and that
// message; the scenario copes with a throw or a rejection as well (it reads either as code -1).
const NET_OVER_LIMIT = { code: 0, error: 'Exceeded the HTTP connection count limit!', headers: [], raw_headers: '', text: '' };

/**
 * Net.httpRequestAsync's per-session limits: at most NET_ACTIVE requests run at once, the rest wait in order; a
 * request beyond NET_TOTAL (running plus waiting) resolves at once with NET_OVER_LIMIT. `send(url, options)` does the
 * request (a promise of the result).
 */
class NetLimiter {
  constructor(send) {
    this.send = send;
    this.running = 0;
    this.waiting = [];
    this.maxRunning = 0; // for tests
  }

  get total() {
    return this.running + this.waiting.length;
  }

  request(url, options) {
    if (this.total >= LIMITS.NET_TOTAL) return Promise.resolve({ ...NET_OVER_LIMIT });
    return new Promise((resolve) => {
      this.waiting.push({ url, options, resolve });
      this.next();
    });
  }

  next() {
    while (this.running < LIMITS.NET_ACTIVE && this.waiting.length > 0) {
      const { url, options, resolve } = this.waiting.shift();
      this.running += 1;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      this.send(url, options).then((result) => {
        this.running -= 1;
        resolve(result);
        this.next();
      });
    }
  }

  /** Drops every request that has not started (their promises never settle), as VoxEngine does at terminate. */
  dropWaiting() {
    const dropped = this.waiting.length;
    this.waiting = [];
    return dropped;
  }
}

module.exports = { LIMITS, NET_OVER_LIMIT, NetLimiter };
