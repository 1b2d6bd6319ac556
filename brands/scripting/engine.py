"""Two QuickJS runtime hooks the quickjs package does not expose, set through its own exported C
API (ctypes): an interrupt handler that stops a script over its memory limit, and a promise
rejection tracker that finds rejections nothing handled.

Both are checked against the pinned package at import (``_verify``): the runtime and context
pointers are read from the package's Context object, and the layout is confirmed by QuickJS
itself (JS_GetRuntime of the context must be the runtime; the malloc limit read back must be the
one set). A mismatch raises EngineLayoutError, so a changed package fails loudly in the worker's
start and in the tests, never silently.

Memory (docs/contract.md#script-execution-limits). The engine's own allocator refuses beyond a
hard cap of twice the script's limit (so a worker's memory stays bounded whatever a single
operation asks for); the script's limit itself is judged here, on the engine's own count of
allocated bytes and on its collection threshold (a high-water mark of what was allocated at the
last collection): by the interrupt handler, which QuickJS calls every few thousand operations
and whose "stop" cannot be caught by the script, and by the host before every call and at the
end. Once over, the execution is out of memory for good: no later call does anything.

Promise rejections: QuickJS reports each rejection without a handler, and again when a handler
is added later. Those still unhandled when the promise jobs have run are what Node.js reports as
unhandled rejections; the sandbox fails the run with the first one.
"""

from __future__ import annotations

import ctypes
import sys

import _quickjs
import quickjs


class EngineLayoutError(RuntimeError):
    """The quickjs package's memory layout is not the one these hooks were written for."""


class JSValue(ctypes.Structure):
    # QuickJS 2021-03-27 on 64-bit platforms (no NaN boxing): a union and a tag.
    _fields_ = [("ptr", ctypes.c_void_p), ("tag", ctypes.c_int64)]


_TAG_FIRST = -11  # JS_TAG_FIRST: tags from here to -1 carry a reference count

_lib = ctypes.CDLL(_quickjs.__file__)
_lib.JS_GetRuntime.restype = ctypes.c_void_p
_lib.JS_GetRuntime.argtypes = [ctypes.c_void_p]
_INTERRUPT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_lib.JS_SetInterruptHandler.restype = None
_lib.JS_SetInterruptHandler.argtypes = [ctypes.c_void_p, _INTERRUPT, ctypes.c_void_p]
_TRACKER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, JSValue, JSValue, ctypes.c_int, ctypes.c_void_p)
_lib.JS_SetHostPromiseRejectionTracker.restype = None
_lib.JS_SetHostPromiseRejectionTracker.argtypes = [ctypes.c_void_p, _TRACKER, ctypes.c_void_p]
# Looked up by name: inside a class body "_lib.__JS_FreeValueRT" would be name-mangled.
_free_value_rt = getattr(_lib, "__JS_FreeValueRT")
_free_value_rt.restype = None
_free_value_rt.argtypes = [ctypes.c_void_p, JSValue]
_lib.JS_GetGlobalObject.restype = JSValue
_lib.JS_GetGlobalObject.argtypes = [ctypes.c_void_p]
_lib.JS_SetPropertyStr.restype = ctypes.c_int
_lib.JS_SetPropertyStr.argtypes = [ctypes.c_void_p, JSValue, ctypes.c_char_p, JSValue]

# Offsets in the package's Context object (PyObject_HEAD, then JSRuntime *, JSContext *) and in
# JSRuntime (JSMallocFunctions: four pointers, then JSMallocState: count, size, limit).
_HEAD = sys.getsizeof(object())
_RUNTIME_OFFSET, _CONTEXT_OFFSET = _HEAD, _HEAD + ctypes.sizeof(ctypes.c_void_p)
_MALLOC_SIZE_OFFSET = 5 * ctypes.sizeof(ctypes.c_void_p)
_MALLOC_LIMIT_OFFSET = 6 * ctypes.sizeof(ctypes.c_void_p)
# JSRuntime.malloc_gc_threshold: after each collection QuickJS sets it to 1.5 times the bytes
# allocated then, and it stays there until the next collection, however much is freed meanwhile.
_GC_THRESHOLD_OFFSET = 24 * ctypes.sizeof(ctypes.c_void_p)
_INITIAL_GC_THRESHOLD = 256 * 1024

# The interrupt handler's own answer: keep going, or stop the script (uncatchably).
_GO_ON, _STOP = 0, 1


def _pointers(context: quickjs.Context) -> tuple[int, int]:
    runtime = ctypes.c_void_p.from_address(id(context) + _RUNTIME_OFFSET).value
    js_context = ctypes.c_void_p.from_address(id(context) + _CONTEXT_OFFSET).value
    if not runtime or not js_context or _lib.JS_GetRuntime(js_context) != runtime:
        raise EngineLayoutError("cannot find the QuickJS runtime in a quickjs.Context")
    return runtime, js_context


def _verify() -> None:
    context = quickjs.Context()
    context.set_memory_limit(12_345_678)
    runtime, _ = _pointers(context)
    if ctypes.c_size_t.from_address(runtime + _MALLOC_LIMIT_OFFSET).value != 12_345_678:
        raise EngineLayoutError("the QuickJS malloc state is not where it was expected")
    used = ctypes.c_size_t.from_address(runtime + _MALLOC_SIZE_OFFSET).value
    if used != context.memory()["malloc_size"]:
        raise EngineLayoutError("the QuickJS allocated-bytes count is not where it was expected")
    if ctypes.c_size_t.from_address(runtime + _GC_THRESHOLD_OFFSET).value != _INITIAL_GC_THRESHOLD:
        raise EngineLayoutError("the QuickJS collection threshold is not where it was expected")
    context.eval("var kept = []; for (var i = 0; i < 20000; i++) kept.push({i: i}); kept = null;")
    threshold = ctypes.c_size_t.from_address(runtime + _GC_THRESHOLD_OFFSET).value
    if not threshold > 2 * 1024 * 1024 > context.memory()["malloc_size"]:
        raise EngineLayoutError("the QuickJS collection threshold does not follow the allocations")


_verify()


def _has_ref_count(value: JSValue) -> bool:
    return _TAG_FIRST <= value.tag < 0


def _dup(value: JSValue) -> JSValue:
    if _has_ref_count(value):
        ctypes.c_int.from_address(value.ptr).value += 1  # JSRefCountHeader.ref_count
    return JSValue(value.ptr, value.tag)


class EngineHooks:
    """The hooks for one execution's context. ``close()`` before the context is dropped."""

    def __init__(self, context: quickjs.Context, *, memory_limit: int) -> None:
        self.runtime, self.js_context = _pointers(context)
        self.memory_limit = int(memory_limit)
        # The engine refuses beyond twice the limit; the limit itself is judged here.
        context.set_memory_limit(2 * self.memory_limit)
        self._allocated = ctypes.c_size_t.from_address(self.runtime + _MALLOC_SIZE_OFFSET)
        self._gc_threshold = ctypes.c_size_t.from_address(self.runtime + _GC_THRESHOLD_OFFSET)
        self.out_of_memory = False
        self._rejections: dict[int, tuple[JSValue, JSValue]] = {}  # promise -> (promise, reason)
        # The callbacks must outlive the runtime's use of them: kept on the instance.
        self._interrupt = _INTERRUPT(self._on_interrupt)
        self._tracker = _TRACKER(self._on_rejection)
        _lib.JS_SetInterruptHandler(self.runtime, self._interrupt, None)
        _lib.JS_SetHostPromiseRejectionTracker(self.runtime, self._tracker, None)

    # ------------------------------------------------------------------ memory

    @property
    def allocated(self) -> int:
        return self._allocated.value

    def over_memory_limit(self) -> bool:
        """True once the script's allocations have been seen over its limit (it stays true): now,
        or at the engine's last collection (whose threshold, 1.5 times what was allocated then,
        outlives anything freed since: a script that grew past its limit between two checks,
        failed at the engine's cap, caught that and dropped what it held is still caught, since
        making the out-of-memory error itself starts a collection)."""
        if not self.out_of_memory:
            limit = self.memory_limit
            if self._allocated.value > limit or self._gc_threshold.value > limit + (limit >> 1):
                self.out_of_memory = True
        return self.out_of_memory

    def _on_interrupt(self, _runtime, _opaque) -> int:
        try:
            return _STOP if self.over_memory_limit() else _GO_ON
        except BaseException:  # a callback must never raise into C
            return _STOP

    # ------------------------------------------------------------------ promise rejections

    def _on_rejection(self, _context, promise: JSValue, reason: JSValue, is_handled: int, _opaque) -> None:
        try:
            if not is_handled:
                if promise.ptr not in self._rejections:
                    self._rejections[promise.ptr] = (_dup(promise), _dup(reason))
            else:
                kept = self._rejections.pop(promise.ptr, None)
                if kept is not None:
                    for value in kept:
                        self._free(value)
        except BaseException:  # never raise into C; a missed rejection is only a missed report
            pass

    @property
    def unhandled_rejections(self) -> int:
        return len(self._rejections)

    def expose_first_rejection(self, name: bytes) -> bool:
        """Put the reason of the first unhandled rejection in the global ``name`` (for the prelude
        to report it); False when there is none."""
        if not self._rejections:
            return False
        first = next(iter(self._rejections))
        promise, reason = self._rejections.pop(first)
        self._free(promise)
        global_object = _lib.JS_GetGlobalObject(self.js_context)
        try:
            _lib.JS_SetPropertyStr(self.js_context, global_object, name, reason)  # takes the reference
        finally:
            self._free(global_object)
        return True

    def _free(self, value: JSValue) -> None:
        if _has_ref_count(value):
            count = ctypes.c_int.from_address(value.ptr)
            count.value -= 1
            if count.value <= 0:
                _free_value_rt(self.runtime, value)

    def close(self) -> None:
        """Release what the tracker kept (the runtime must not be freed with references left)."""
        rejections, self._rejections = self._rejections, {}
        for promise, reason in rejections.values():
            self._free(promise)
            self._free(reason)
