// The script globals (CONTRACT.md "Script globals"), evaluated in every fresh QuickJS context
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

  // Host replies are JSON text: [0, value] for a result, [1, message] for a TypeError, [2, message]
  // for an Error. JSON.parse builds own properties, so nothing a script put on a prototype is
  // consulted when reading r[0] / r[1].
  function $ca$reply(text) {
    const r = parse(text);
    if (r[0] === 0) return r[1];
    if (r[0] === 1) throw new TE(r[1]);
    throw new Err(r[1]);
  }

  function $ca$kind(x) {
    if (x === null) return "null";
    return typeof x;
  }

  // A short description of a non-string key for the TypeError message.
  function $ca$describe(x) {
    const t = typeof x;
    if (t === "number" || t === "boolean" || t === "bigint") return t + " " + Str(x);
    if (x === null) return "null";
    return t;
  }

  // [JSON text, null] or [null, why it cannot be serialised].
  function $ca$serialise(value) {
    let text;
    try {
      text = stringify(value);
    } catch (e) {
      let why = "JSON.stringify failed";
      try {
        if (e !== null && typeof e === "object") why = "JSON.stringify failed: " + Str(e.message);
      } catch (_) { /* a hostile error object: keep the generic text */ }
      return [null, why];
    }
    if (text === undefined) {
      return [null, "JSON.stringify cannot serialise " + (value === undefined ? "undefined" : "a " + typeof value)];
    }
    return [text, null];
  }

  // [key, its length] for a string (the host compares the length: the quickjs package cuts a
  // string at a NUL character on its way to Python), else [null, a description].
  function $ca$key(key) {
    return typeof key === "string" ? [key, key.length] : [null, $ca$describe(key)];
  }

  function $ca$simple(op, key) {
    const k = $ca$key(key);
    return $ca$reply(hostCache(op, k[0], k[1], null, null, null, "undefined", null, "undefined"));
  }

  function $ca$write(op, key, value, ttlSeconds) {
    const k = $ca$key(key);
    const v = $ca$serialise(value);
    const ttlKind = $ca$kind(ttlSeconds);
    const ttl = ttlKind === "number" ? ttlSeconds : null;
    return $ca$reply(hostCache(op, k[0], k[1], v[0], v[1], ttl, ttlKind, null, "undefined"));
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
      const k = $ca$key(key);
      const amountKind = $ca$kind(amount);
      const ttlKind = $ca$kind(ttlSeconds);
      return $ca$reply(hostCache(
        "increment", k[0], k[1], null, null,
        amountKind === "number" ? amount : null, amountKind,
        ttlKind === "number" ? ttlSeconds : null, ttlKind,
      ));
    },
  };
  freeze(cache);

  function $ca$setVariable(name, value) {
    const v = $ca$serialise(value);
    const isString = typeof name === "string";
    $ca$reply(hostOutput("var", isString ? name : null, isString ? name.length : $ca$kind(name), v[0], v[1]));
  }

  function $ca$redirect(url) {
    $ca$reply(hostOutput("redirect", typeof url === "string" ? url : null, $ca$kind(url), null, null));
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

  function $ca$logger(level) {
    return function $ca$log() {
      let message = "";
      for (let i = 0; i < arguments.length; i++) {
        message = i === 0 ? $ca$format(arguments[i]) : message + " " + $ca$format(arguments[i]);
      }
      $ca$reply(hostOutput("log", level, "string", message, null));
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
    report("error", name, message, stack, e === null);
  }

  // The runner: an indirect eval runs the code as a global script and yields the completion value
  // of its last expression statement, as a console does.
  return function $ca$run(source) {
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
    report("result", text === undefined ? null : text, null, null, false);
  };
})
