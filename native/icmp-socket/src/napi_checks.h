/*
 * The N-API argument checks every class of the addon uses (icmp_socket.c, tcp_connect.c, probe_socket.c), written
 * once. A file defines ADDON_PART, the name its messages start with ("icmp-socket"), before including this.
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

/* Sets object[name] to a process-wide counter's value (the classes' stats for tests); false on failure. */
static inline bool set_count(napi_env env, napi_value object, const char *name, int *counter) {
  napi_value value;
  return napi_create_int32(env, __atomic_load_n(counter, __ATOMIC_SEQ_CST), &value) == napi_ok &&
         napi_set_named_property(env, object, name, value) == napi_ok;
}

#endif
