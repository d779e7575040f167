'use strict';
/**
 * Strict namespaces: a Proxy that throws on any property name the real VoxEngine object does not have, so a typo
 * such as `CallEvents.Conected` fails at once with a message naming the bad property.
 */

class UnknownNameError extends TypeError {
  constructor(namespace, property, known) {
    const hint = closest(property, known);
    super(
      `${namespace}.${property} is not a VoxEngine API name` +
        (hint ? ` (did you mean ${namespace}.${hint}?)` : '') +
        ` [VoxEngine simulator: unknown property '${property}' on ${namespace}]`,
    );
    this.name = 'UnknownNameError';
    this.namespace = namespace;
    this.property = property;
  }
}

class NotSupportedError extends Error {
  constructor(what) {
    super(`${what} is a real VoxEngine API but the simulator does not implement it`);
    this.name = 'NotSupportedError';
  }
}

/**
 * Wraps `members` (an object of the real names) in a read-only Proxy. Reading a name that is not an own member
 * throws UnknownNameError; symbols and Object.prototype names (toString, constructor, ...) pass through so that
 * inspection and coercion still work. `onError` (optional) sees each error before it is thrown.
 */
function strictNamespace(namespace, members, onError) {
  const target = Object.assign(Object.create(null), members);
  const known = Object.keys(members);
  const fail = (error) => {
    if (onError) onError(error);
    throw error;
  };
  return new Proxy(target, {
    get(obj, prop) {
      if (typeof prop === 'symbol') return undefined;
      if (Object.prototype.hasOwnProperty.call(obj, prop)) return obj[prop];
      if (prop in Object.prototype) return Object.prototype[prop];
      // Probed by JSON.stringify and by promise resolution; not VoxEngine names either way.
      if (prop === 'toJSON' || prop === 'then') return undefined;
      return fail(new UnknownNameError(namespace, String(prop), known));
    },
    set(obj, prop) {
      return fail(new TypeError(`${namespace} is read-only in VoxEngine (tried to set '${String(prop)}')`));
    },
    defineProperty(obj, prop) {
      return fail(new TypeError(`${namespace} is read-only in VoxEngine (tried to define '${String(prop)}')`));
    },
    deleteProperty(obj, prop) {
      return fail(new TypeError(`${namespace} is read-only in VoxEngine (tried to delete '${String(prop)}')`));
    },
  });
}

/** Functions for names the simulator knows but does not implement. */
function unsupported(namespace, names, onError) {
  return Object.fromEntries(
    names.map((name) => [
      name,
      () => {
        const error = new NotSupportedError(`${namespace}.${name}`);
        if (onError) onError(error);
        throw error;
      },
    ]),
  );
}

/** The known name nearest to `name` by edit distance, if it is close enough to be a likely typo. */
function closest(name, known) {
  let best = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : null;
}

function editDistance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

module.exports = { strictNamespace, unsupported, UnknownNameError, NotSupportedError };
