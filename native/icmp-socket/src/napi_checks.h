/*
 * What every class of the addon (icmp_socket.c, tcp_connect.c, probe_socket.c) needs of N-API, written once: the
 * argument checks, errors that carry an errno, and what the tests see and provoke (live counters, one-shot faults).
 * A file defines ADDON_PART, the name its messages start with ("icmp-socket"), before including this.
 */
#ifndef ZENSWEEP_NAPI_CHECKS_H
#define ZENSWEEP_NAPI_CHECKS_H

#ifndef ADDON_PART
#error "define ADDON_PART (the name the file's messages start with) before including napi_checks.h"
#endif

#include <math.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* An N-API call that fails returns NULL from the calling method, with an exception pending (its own, or this one). */
#define CHECK(call)                                                                                                   \
  do {                                                                                                                \
    if ((call) != napi_ok) {                                                                                          \
      bool pending_ = false;                                                                                          \
      napi_is_exception_pending(env, &pending_);                                                                      \
      if (!pending_) napi_throw_error(env, NULL, ADDON_PART ": " #call " failed");                                    \
      return NULL;                                                                                                    \
    }                                                                                                                 \
  } while (0)

static inline bool throw_type(napi_env env, const char *name, const char *what) {
  char message[128];
  snprintf(message, sizeof message, ADDON_PART ": %s must be %s", name, what);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return false;
}

static inline bool expect_type(napi_env env, napi_value value, napi_valuetype wanted, const char *name,
                               const char *what) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != wanted) return throw_type(env, name, what);
  return true;
}

/*
 * An integer from `min` to `max`, both within ±2^53: any other number (negative where it may not be, fractional,
 * NaN, ±Infinity, too large) is a RangeError, anything but a number a TypeError. Read as a double, compared as
 * doubles, converted only once known to fit: no 32-bit wrap on the way (napi_get_value_uint32 takes -1 for 2^32-1).
 */
static inline bool get_integer(napi_env env, napi_value value, const char *name, int64_t min, int64_t max,
                               int64_t *out) {
  double number;
  if (!expect_type(env, value, napi_number, name, "a number") || napi_get_value_double(env, value, &number) != napi_ok)
    return false;
  if (!isfinite(number) || number != floor(number) || number < (double)min || number > (double)max) {
    char message[160];
    snprintf(message, sizeof message, ADDON_PART ": %s must be an integer from %lld to %lld", name, (long long)min,
             (long long)max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (int64_t)number;
  return true;
}

/* Throws an Error whose message ends with strerror(error) and whose `errno` is error; returns NULL for the method. */
static inline napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[160];
  snprintf(message, sizeof message, ADDON_PART ": %s: %s", what, strerror(error));
  napi_value text, code, object;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_int32(env, error, &code) != napi_ok || napi_create_error(env, NULL, text, &object) != napi_ok ||
      napi_set_named_property(env, object, "errno", code) != napi_ok || napi_throw(env, object) != napi_ok) {
    napi_throw_error(env, NULL, message);
  }
  return NULL;
}

/* Adds delta to a process-wide counter of live resources (the tests check that nothing outlives its owner). */
static inline void count(int *counter, int delta) { __atomic_add_fetch(counter, delta, __ATOMIC_SEQ_CST); }

/*
 * True once for the fault `which` when the tests injected it (`injected`, 0 for none): the step that asks then fails
 * as the system could make it, so the unwinding of every step is run.
 */
static inline bool take_fault(int *injected, int which) {
  int expected = which;
  return which != 0 && __atomic_compare_exchange_n(injected, &expected, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/*
 * The body of an inject…Fault(name) method: sets `injected` to the index of name in `names` (RangeError if none), and
 * returns the name of the fault that was waiting until then ("none" once it was taken: inject "none" to ask).
 */
static inline napi_value inject_named_fault(napi_env env, napi_callback_info info, const char *const *names,
                                           int name_count, int *injected) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!expect_type(env, argv[0], napi_string, "fault", "a string")) return NULL;
  char name[32];
  size_t length = 0;
  CHECK(napi_get_value_string_latin1(env, argv[0], name, sizeof name, &length));
  for (int i = 0; i < name_count; i++) {
    if (strcmp(name, names[i]) == 0) {
      int waiting = __atomic_exchange_n(injected, i, __ATOMIC_SEQ_CST);
      CHECK(napi_create_string_latin1(env, waiting >= 0 && waiting < name_count ? names[waiting] : "?", NAPI_AUTO_LENGTH,
                                      &result));
      return result;
    }
  }
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", ADDON_PART ": no such fault");
  return NULL;
}

/* Sets object[name] to a process-wide counter's value (the classes' stats for tests); false on failure. */
static inline bool set_count(napi_env env, napi_value object, const char *name, int *counter) {
  napi_value value;
  return napi_create_int32(env, __atomic_load_n(counter, __ATOMIC_SEQ_CST), &value) == napi_ok &&
         napi_set_named_property(env, object, name, value) == napi_ok;
}

#endif
