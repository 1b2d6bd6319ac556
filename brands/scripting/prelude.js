// The script globals (docs/contract.md#script-globals), evaluated in every fresh QuickJS context
// before the user's code. It is an expression: a function that receives the two host functions
// and returns the runner; nothing here is reachable from user code except the globals it defines.
//
// Security does not rest on this file. User code may overwrite `cache`, `JSON`, prototypes or
// anything else; the host functions (Python) count every operation, validate every key, TTL and
// value, and bound the captured output. What this file guarantees is only that a well-behaved
// script sees the documented API with JavaScript's own serialisation: everything it relies on is
// captured here, before user code runs, and only operators (typeof, ===) are used on user values
// besides the captured functions.
//
// Functions are named "$ca$..." so that the host can leave their frames out when it looks for the
// line of an error in the stack.
(function $ca$install(hostCache, hostOutput, report) {
  "use strict";
  const g = globalThis;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const Str = String;
  const TE = TypeError;
  const Err = Error;
  const indirectEval = g.eval;
  const defineProperty = Object.defineProperty;
  const freeze = Object.freeze;

  // Non-standard global that QuickJS adds (a high-resolution clock); not part of the contract.
  delete g.__date_clock;

  // The wire protocol. Every host call takes one JSON text, made by the captured JSON.stringify,
  // with named fields; JSON escapes what the quickjs package would mangle on its way to Python
  // (a NUL ends a string there, a lone surrogate cannot become UTF-8). Replies are JSON text too:
  // {"kind": "value", "value": ...}, {"kind": "typeError", "message": ...} or
  // {"kind": "error", "message": ...}. JSON.parse builds own properties, and the fields read are
  // always present, so nothing a script put on a prototype is consulted.
  function $ca$call(host, request) {
    const r = parse(host(stringify(request)));
    if (r.kind === "value") return r.value;
    if (r.kind === "typeError") throw new TE(r.message);
    throw new Err(r.message);
  }

  // An argument as the host needs it: its type (typeof, with "null"), and the value itself for a
  // string or a finite number; a non-finite number travels as text ("NaN", "-Infinity"), which
  // JSON cannot carry as a number. Other values are described, never sent. Every object the
  // prelude serialises has no prototype, so a toJSON a script put on Object.prototype cannot
  // rewrite a call.
  function $ca$arg(x) {
    if (x === null) return { __proto__: null, type: "null" };
    const t = typeof x;
    if (t === "string") return { __proto__: null, type: t, value: x };
    if (t === "number") return x - x === 0 ? { __proto__: null, type: t, value: x } : { __proto__: null, type: t, text: Str(x) };
    if (t === "boolean" || t === "bigint") return { __proto__: null, type: t, text: Str(x) };
    return { __proto__: null, type: t };
  }

  // {json: text} or {error: why it cannot be serialised}.
  function $ca$serialise(value) {
    let text;
    try {
      text = stringify(value);
    } catch (e) {
      let why = "JSON.stringify failed";
      try {
        if (e !== null && typeof e === "object") why = "JSON.stringify failed: " + Str(e.message);
      } catch (_) { /* a hostile error object: keep the generic text */ }
      return { __proto__: null, error: why };
    }
    if (text === undefined) {
      return { __proto__: null, error: "JSON.stringify cannot serialise " + (value === undefined ? "undefined" : "a " + typeof value) };
    }
    return { __proto__: null, json: text };
  }

  function $ca$simple(op, key) {
    return $ca$call(hostCache, { __proto__: null, op: op, key: $ca$arg(key) });
  }

  function $ca$write(op, key, value, ttlSeconds) {
    return $ca$call(hostCache, {
      __proto__: null, op: op, key: $ca$arg(key), value: $ca$serialise(value), ttl: $ca$arg(ttlSeconds),
    });
  }

  const cache = {
    get: function $ca$get(key) { return $ca$simple("get", key); },
    has: function $ca$has(key) { return $ca$simple("has", key); },
    del: function $ca$del(key) { return $ca$simple("del", key); },
    set: function $ca$set(key, value, ttlSeconds) { return $ca$write("set", key, value, ttlSeconds); },
    setIfAbsent: function $ca$setIfAbsent(key, value, ttlSeconds) {
      return $ca$write("setIfAbsent", key, value, ttlSeconds);
    },
    increment: function $ca$increment(key, amount, ttlSeconds) {
      return $ca$call(hostCache, {
        __proto__: null, op: "increment", key: $ca$arg(key), amount: $ca$arg(amount), ttl: $ca$arg(ttlSeconds),
      });
    },
  };
  freeze(cache);

  function $ca$setVariable(name, value) {
    $ca$call(hostOutput, { __proto__: null, call: "var", name: $ca$arg(name), value: $ca$serialise(value) });
  }

  function $ca$redirect(url) {
    $ca$call(hostOutput, { __proto__: null, call: "redirect", url: $ca$arg(url) });
  }

  // console.log formatting: strings as they are, other values as JSON where that says more.
  function $ca$format(x) {
    const t = typeof x;
    if (t === "string") return x;
    if (x === null || t !== "object") return Str(x);
    try {
      if (x instanceof Err) return Str(x);
      const text = stringify(x);
      return text === undefined ? Str(x) : text;
    } catch (_) {
      try { return Str(x); } catch (_2) { return "[unprintable " + t + "]"; }
    }
  }

  // The host answers false when it dropped an entry because the entry limit is reached; later
  // calls still format their arguments, as console.log does, but are not sent: a script logging
  // in a long loop must not spend its time limit on entries that would be dropped.
  let logsOpen = true;

  function $ca$logger(level) {
    return function $ca$log() {
      let message = "";
      for (let i = 0; i < arguments.length; i++) {
        message = i === 0 ? $ca$format(arguments[i]) : message + " " + $ca$format(arguments[i]);
      }
      if (logsOpen) {
        logsOpen = $ca$call(hostOutput, { __proto__: null, call: "log", level: level, message: message }) !== false;
      }
    };
  }

  const console = freeze({
    log: $ca$logger("log"),
    info: $ca$logger("info"),
    warn: $ca$logger("warn"),
    error: $ca$logger("error"),
  });

  // Writable and configurable like any script-defined global: overwriting them only breaks the
  // script that does it.
  const globals = { cache: cache, setVariable: $ca$setVariable, redirect: $ca$redirect, console: console };
  for (const name in globals) {
    defineProperty(g, name, { value: globals[name], writable: true, configurable: true, enumerable: false });
  }

  function $ca$reportError(e) {
    let name = "Error";
    let message = "";
    let stack = "";
    try {
      if (e !== null && (typeof e === "object" || typeof e === "function")) {
        const n = e.name;
        const m = e.message;
        const s = e.stack;
        if (typeof n === "string" && n !== "") name = n;
        if (m === undefined) {
          const text = stringify(e);
          message = text === undefined ? Str(e) : text;
        } else {
          message = Str(m);
        }
        if (typeof s === "string") stack = s;
      } else {
        message = Str(e);
      }
    } catch (_) {
      message = message || "(the thrown value could not be printed)";
    }
    report(stringify({ __proto__: null, kind: "error", name: name, message: message, stack: stack, threwNull: e === null }));
  }

  // The runner: an indirect eval runs the code as a global script and yields the completion value
  // of its last expression statement, as a console does.
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;

  // $ca$run(null): the host found a promise rejection nothing handled and put its reason in the
  // global __ca_rejection; it is reported like an uncaught error.
  return function $ca$run(source) {
    if (source === null) {
      const found = getOwnPropertyDescriptor(g, "__ca_rejection");
      delete g.__ca_rejection;
      $ca$reportError(found === undefined ? undefined : found.value);
      return;
    }
    let value;
    try {
      value = indirectEval(source);
    } catch (e) {
      $ca$reportError(e);
      return;
    }
    let text = null;
    try {
      text = stringify(value);
    } catch (_) {
      text = null;  // BigInt, cyclic, a throwing toJSON: not JSON-serialisable -> null
    }
    report(stringify({ __proto__: null, kind: "result", json: text === undefined ? null : text }));
  };
})
