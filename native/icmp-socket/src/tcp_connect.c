/*
 * TCP connection attempts made by the addon, for a sweeper without CAP_NET_RAW.
 *
 * node:net cannot set IP_RECVERR, and without a raw ICMP socket nothing else tells who answered a SYN with an ICMP
 * error: the socket's errno (EHOSTUNREACH, EACCES, ECONNREFUSED for a REJECT with port unreachable) names nobody.
 * With IP_RECVERR (IPV6_RECVERR), Linux queues the ICMP error about the socket's own SYN on the socket's own error
 * queue, with no privilege at all: a `struct sock_extended_err` with the ICMP type and code and, after it, the address
 * of whoever sent it (SO_EE_OFFENDER). The queue is the socket's, so an error read there is about this attempt's SYN,
 * whoever else probes the same host and port: no flow is matched, nothing is remembered.
 *
 * Each attempt: socket(SOCK_STREAM | SOCK_NONBLOCK), IP_RECVERR, optionally IP_TTL (a trace's hop: "time exceeded"
 * comes back on the same queue), connect(), a uv_poll on libuv's loop for writability and errors. When the poll says
 * something, the error queue is read first (an ICMP error: its type, code and sender), then SO_ERROR (0: connected;
 * ECONNREFUSED: an RST; another errno: the sweeper's own stack). The socket is closed before the outcome reaches JS:
 * a connected one with SO_LINGER 0 (an RST, no TIME_WAIT left behind, as node:net's resetAndDestroy), any other one
 * plainly. The poll also wakes for an error queued while connect() itself held the socket (the kernel then keeps
 * the error soft and would retransmit the SYN): the queue is not empty, so the poll reports POLLERR.
 *
 * A timeout is the caller's (`cancel`): the attempt's socket is closed, and no outcome comes.
 *
 * Life and death follow icmp_socket.c: every argument is checked, every libuv call's result; a connector lives until
 * its JS object is collected and every attempt's poll handle is closed; an environment torn down (a worker
 * terminated) closes it first and holds the teardown until its handles are closed (an async cleanup hook).
 *
 * The JS side is src/engine/tcp-errqueue.ts.
 */
#define _GNU_SOURCE
#include "tcp_connect.h"
#define ADDON_PART "tcp-connect"
#include "napi_checks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

/* Attempts in flight on one connector at most: far past any in-flight budget (the engine's is at most 65,536). */
#define MAX_ATTEMPTS (1u << 20)
#define NO_SLOT UINT32_MAX
/* Error queue entries read per wake-up at most: one per ICMP error about the SYN and its retransmissions. */
#define MAX_QUEUED_ERRORS 64
/* Poll errors in a row that found nothing to say before the attempt is given up on (EIO). */
#define MAX_EMPTY_ERRORS 16

typedef struct tcp_connector tcp_connector_t;

typedef struct {
  uv_poll_t poll;
  tcp_connector_t *owner;
  int fd;
  /* Its index in owner->attempts while it is in flight; NO_SLOT once ended (its handle is closing). */
  uint32_t slot;
  int empty_errors;
} attempt_t;

struct tcp_connector {
  napi_env env;
  uv_loop_t *loop;
  int closed;
  napi_ref on_outcome;
  napi_async_context async_context;
  /* Registered while open: the environment's teardown closes the connector (see on_teardown). */
  napi_async_cleanup_hook_handle cleanup_hook;
  /* Set when the teardown has begun: removed once every handle is closed, which lets the teardown go on. */
  napi_async_cleanup_hook_handle teardown;
  /* The attempts in flight by slot (NULL: free), and the free slots below `used` as a stack. */
  attempt_t **attempts;
  uint32_t *free_slots;
  uint32_t capacity;
  uint32_t used;
  uint32_t free_count;
  uint32_t in_flight;
  /* Attempts' poll handles initialised and not yet closed. */
  int handles_open;
  /* Freed when 0: one per open handle, one for the JS object. */
  int holders;
};

/* ---- what the tests can see and provoke ------------------------------------------------------------------------- */

static int live_connectors, live_attempts, connector_teardowns;

enum tcp_fault { TCP_FAULT_NONE, TCP_FAULT_SOCKET, TCP_FAULT_TABLE, TCP_FAULT_ATTEMPT, TCP_FAULT_POLL_INIT,
                 TCP_FAULT_POLL_START, TCP_FAULT_REFERENCE, TCP_FAULT_CLEANUP_HOOK, TCP_FAULT_WRAP };
static const char *const TCP_FAULT_NAMES[] = {"none",      "socket",     "table",        "attempt", "poll_init",
                                              "poll_start", "reference", "cleanup_hook", "wrap"};
static int injected_tcp_fault;

static bool fault(enum tcp_fault which) { return take_fault(&injected_tcp_fault, (int)which); }

/* ---- small helpers ---------------------------------------------------------------------------------------------- */

/* The connector a method is called on; NULL with a TypeError when `this` is not a TcpConnector. */
static tcp_connector_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || !data) {
    throw_type(env, "this", "a TcpConnector");
    return NULL;
  }
  return data;
}

/* ---- what the kernel says about an attempt ---------------------------------------------------------------------- */

typedef struct {
  /* The first ICMP error queued: its type and code, the errno the kernel made of it, and who sent it (text). */
  bool icmp;
  int type;
  int code;
  int icmp_errno;
  char offender[INET6_ADDRSTRLEN];
  /* The first error of the sweeper's own stack queued there (SO_EE_ORIGIN_LOCAL), 0 if none. */
  int local_errno;
  /* How many entries were read. */
  int read;
} queued_errors_t;

/* The address after a sock_extended_err (SO_EE_OFFENDER), as text; "" when the cmsg holds none. */
static void offender_text(const struct cmsghdr *cmsg, char *text, size_t size) {
  text[0] = '\0';
  size_t header = CMSG_LEN(sizeof(struct sock_extended_err));
  if (cmsg->cmsg_len <= header) return;
  size_t available = cmsg->cmsg_len - header;
  struct sockaddr_in6 address;
  memset(&address, 0, sizeof address);
  memcpy(&address, CMSG_DATA(cmsg) + sizeof(struct sock_extended_err),
         available < sizeof address ? available : sizeof address);
  if (address.sin6_family == AF_INET && available >= sizeof(struct sockaddr_in)) {
    if (!inet_ntop(AF_INET, &((struct sockaddr_in *)&address)->sin_addr, text, (socklen_t)size)) text[0] = '\0';
  } else if (address.sin6_family == AF_INET6 && available >= sizeof(struct sockaddr_in6)) {
    if (!inet_ntop(AF_INET6, &address.sin6_addr, text, (socklen_t)size)) text[0] = '\0';
  }
}

/* Empties the socket's error queue, keeping the first ICMP error and the first local error in `out`. */
static void read_error_queue(int fd, queued_errors_t *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < MAX_QUEUED_ERRORS; i++) {
    /* The quoted TCP header lands here; only the control messages are read. */
    uint8_t quoted[64];
    union {
      struct cmsghdr align;
      uint8_t bytes[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6)) + 256];
    } control;
    struct iovec vector = {.iov_base = quoted, .iov_len = sizeof quoted};
    struct msghdr message = {
        .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    out->read += 1;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message); cmsg; cmsg = CMSG_NXTHDR(&message, cmsg)) {
      bool v4 = cmsg->cmsg_level == SOL_IP && cmsg->cmsg_type == IP_RECVERR;
      bool v6 = cmsg->cmsg_level == SOL_IPV6 && cmsg->cmsg_type == IPV6_RECVERR;
      if ((!v4 && !v6) || cmsg->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err))) continue;
      struct sock_extended_err error;
      memcpy(&error, CMSG_DATA(cmsg), sizeof error);
      if (error.ee_origin == SO_EE_ORIGIN_ICMP || error.ee_origin == SO_EE_ORIGIN_ICMP6) {
        if (out->icmp) continue;
        out->icmp = true;
        out->type = error.ee_type;
        out->code = error.ee_code;
        out->icmp_errno = (int)error.ee_errno;
        offender_text(cmsg, out->offender, sizeof out->offender);
      } else if (error.ee_origin == SO_EE_ORIGIN_LOCAL && out->local_errno == 0) {
        out->local_errno = (int)error.ee_errno;
      }
    }
  }
}

/* ---- events to JS --------------------------------------------------------------------------------------------- */

/* onOutcome(slot, errno, icmpType, icmpCode, sender): icmpType -1 and sender undefined when no ICMP error came. */
static void deliver(tcp_connector_t *c, uint32_t slot, int error, const queued_errors_t *queued) {
  if (c->closed || !c->on_outcome) return;
  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argv[5], result;
  bool icmp = queued && queued->icmp && queued->offender[0] != '\0';
  if (napi_get_reference_value(env, c->on_outcome, &callback) == napi_ok && callback &&
      napi_get_global(env, &receiver) == napi_ok && napi_create_uint32(env, slot, &argv[0]) == napi_ok &&
      napi_create_int32(env, error, &argv[1]) == napi_ok &&
      napi_create_int32(env, icmp ? queued->type : -1, &argv[2]) == napi_ok &&
      napi_create_int32(env, icmp ? queued->code : -1, &argv[3]) == napi_ok &&
      (icmp ? napi_create_string_latin1(env, queued->offender, NAPI_AUTO_LENGTH, &argv[4])
            : napi_get_undefined(env, &argv[4])) == napi_ok) {
    /* make_callback, not call_function: it runs the microtasks and ticks the callback queues, as Node's own do. */
    napi_status status = napi_make_callback(env, c->async_context, receiver, callback, 5, argv, &result);
    if (status == napi_pending_exception) {
      napi_value thrown;
      napi_valuetype type = napi_undefined;
      /* What the callback threw goes where an uncaught exception goes; a worker being terminated throws nothing. */
      if (napi_get_and_clear_last_exception(env, &thrown) == napi_ok && napi_typeof(env, thrown, &type) == napi_ok &&
          type != napi_undefined && type != napi_null) {
        napi_fatal_exception(env, thrown);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

/* ---- life and death ------------------------------------------------------------------------------------------- */

static void free_connector(tcp_connector_t *c) {
  free(c->attempts);
  free(c->free_slots);
  free(c);
  count(&live_connectors, -1);
}

static void release(tcp_connector_t *c) {
  if (--c->holders == 0) free_connector(c);
}

static void on_attempt_closed(uv_handle_t *handle) {
  attempt_t *a = handle->data;
  tcp_connector_t *c = a->owner;
  free(a);
  count(&live_attempts, -1);
  /* The environment's teardown waits for these: once all are closed, it may go on (and close the loop). */
  if (--c->handles_open == 0 && c->teardown) {
    napi_async_cleanup_hook_handle teardown = c->teardown;
    c->teardown = NULL;
    napi_remove_async_cleanup_hook(teardown);
  }
  release(c);
}

/*
 * Ends an attempt: out of the table (its slot free for the next), its poll stopped, its socket closed (reset, when
 * `reset`), its handle closing (its memory goes in on_attempt_closed).
 */
static void end_attempt(tcp_connector_t *c, attempt_t *a, bool reset) {
  if (a->slot != NO_SLOT) {
    c->attempts[a->slot] = NULL;
    c->free_slots[c->free_count++] = a->slot;
    c->in_flight -= 1;
    a->slot = NO_SLOT;
  }
  /* Stopping a poll fails only on a handle that is not a poll: a bug of this file. */
  if (uv_poll_stop(&a->poll) != 0) napi_fatal_error("tcp-connect", NAPI_AUTO_LENGTH, "uv_poll_stop failed", NAPI_AUTO_LENGTH);
  if (a->fd >= 0) {
    if (reset) {
      struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
      setsockopt(a->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    close(a->fd);
    a->fd = -1;
  }
  uv_close((uv_handle_t *)&a->poll, on_attempt_closed);
}

/* Closes every attempt (no outcome), the callback's reference, the async context and the teardown hook; once. */
static void close_connector(tcp_connector_t *c) {
  if (c->closed) return;
  c->closed = 1;
  for (uint32_t i = 0; i < c->used; i++) {
    if (c->attempts[i]) end_attempt(c, c->attempts[i], false);
  }
  if (c->on_outcome) {
    napi_delete_reference(c->env, c->on_outcome);
    c->on_outcome = NULL;
  }
  if (c->async_context) {
    napi_async_destroy(c->env, c->async_context);
    c->async_context = NULL;
  }
  if (c->cleanup_hook) {
    napi_remove_async_cleanup_hook(c->cleanup_hook);
    c->cleanup_hook = NULL;
  }
}

/* The environment is torn down (a worker terminated, the process exiting) while the connector is open. */
static void on_teardown(napi_async_cleanup_hook_handle handle, void *argument) {
  tcp_connector_t *c = argument;
  c->cleanup_hook = NULL; /* It ran: nothing to remove any more. */
  count(&connector_teardowns, 1);
  close_connector(c);
  if (c->handles_open == 0) {
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  c->teardown = handle;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  close_connector(data);
  release(data);
}

/* ---- an attempt's events ---------------------------------------------------------------------------------------- */

static void on_attempt_poll(uv_poll_t *handle, int status, int events) {
  attempt_t *a = handle->data;
  tcp_connector_t *c = a->owner;
  if (c->closed || a->slot == NO_SLOT) return;
  queued_errors_t queued;
  read_error_queue(a->fd, &queued);
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
  uint32_t slot = a->slot;
  bool decided = true;
  if (queued.icmp && queued.offender[0] != '\0') {
    /* An ICMP error about this socket's SYN: who sent it says more than the errno the kernel made of it. */
    if (error == 0) error = queued.icmp_errno ? queued.icmp_errno : EHOSTUNREACH;
  } else if (error != 0) {
    /* ECONNREFUSED: an RST. Any other errno: the sweeper's own stack (no route, a failed ARP, a local firewall). */
  } else if (status == 0 && (events & UV_WRITABLE)) {
    /* Connected. */
  } else if (queued.local_errno != 0) {
    error = queued.local_errno;
  } else {
    decided = false;
  }
  if (!decided) {
    /* libuv stops the poll on POLLERR: poll again, unless it keeps waking with nothing to say. */
    int restarted = ++a->empty_errors > MAX_EMPTY_ERRORS ? UV_EIO : uv_poll_start(&a->poll, UV_WRITABLE, on_attempt_poll);
    if (restarted == 0) return;
    error = -restarted;
  }
  end_attempt(c, a, error == 0);
  deliver(c, slot, error, &queued);
}

/* ---- methods -------------------------------------------------------------------------------------------------- */

/* Room for one more attempt in the table: 0, or ENOMEM / EMFILE (MAX_ATTEMPTS in flight). */
static int table_room(tcp_connector_t *c) {
  if (c->free_count > 0 || c->used < c->capacity) return 0;
  uint64_t capacity = c->capacity ? (uint64_t)c->capacity * 2 : 256;
  if (capacity > MAX_ATTEMPTS) capacity = MAX_ATTEMPTS;
  if (capacity <= c->used) return EMFILE;
  if (fault(TCP_FAULT_TABLE)) return ENOMEM;
  attempt_t **attempts = realloc(c->attempts, (size_t)capacity * sizeof *attempts);
  if (!attempts) return ENOMEM;
  c->attempts = attempts;
  uint32_t *free_slots = realloc(c->free_slots, (size_t)capacity * sizeof *free_slots);
  if (!free_slots) return ENOMEM;
  c->free_slots = free_slots;
  for (uint64_t i = c->capacity; i < capacity; i++) c->attempts[i] = NULL;
  c->capacity = (uint32_t)capacity;
  return 0;
}

/* Opens a socket and starts its connect: its descriptor, or -errno. */
static int start_connect(int family, const struct sockaddr_in6 *to, socklen_t to_length, int ttl) {
  int fd = fault(TCP_FAULT_SOCKET) ? (errno = EMFILE, -1)
                                   : socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int on = 1;
  int set = family == 4 ? setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on)
                        : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
  if (set == 0 && ttl > 0) {
    set = family == 4 ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl)
                      : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
  }
  /* Without its error queue an attempt could not say who answered: not made at all. */
  if (set != 0) {
    int error = errno;
    close(fd);
    return -error;
  }
  for (;;) {
    if (connect(fd, (const struct sockaddr *)to, to_length) == 0) break;
    /* EINTR on a non-blocking connect: it goes on in the background, as EINPROGRESS says. */
    if (errno == EINPROGRESS || errno == EINTR) break;
    int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

/*
 * connect(family, address, port, ttl) → the attempt's slot (≥ 0), its outcome to come through onOutcome; or -errno
 * when it failed at once (EMFILE, EADDRNOTAVAIL for no free local port, ENETUNREACH, EPERM from a local firewall;
 * EINVAL for an address that is not one of `family`; EBADF once closed). ttl 0: the system's default.
 */
static napi_value connect_method(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  tcp_connector_t *c = unwrap(env, info, &argc, argv);
  if (!c) return NULL;
  int64_t family, port, ttl;
  if (!get_integer(env, argv[0], "family", 4, 6, &family) || !get_integer(env, argv[2], "port", 1, 65535, &port) ||
      !get_integer(env, argv[3], "ttl", 0, 255, &ttl)) {
    return NULL;
  }
  if (family == 5) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "tcp-connect: family must be 4 or 6");
    return NULL;
  }
  if (!expect_type(env, argv[1], napi_string, "address", "a string")) return NULL;
  char text[64];
  size_t text_length = 0;
  CHECK(napi_get_value_string_latin1(env, argv[1], NULL, 0, &text_length));
  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  socklen_t to_length = 0;
  int readable = 0;
  if (text_length < sizeof text) {
    CHECK(napi_get_value_string_latin1(env, argv[1], text, sizeof text, &text_length));
    if (family == 4) {
      struct sockaddr_in *v4 = (struct sockaddr_in *)&to;
      v4->sin_family = AF_INET;
      v4->sin_port = htons((uint16_t)port);
      readable = inet_pton(AF_INET, text, &v4->sin_addr) == 1;
      to_length = sizeof *v4;
    } else {
      to.sin6_family = AF_INET6;
      to.sin6_port = htons((uint16_t)port);
      readable = inet_pton(AF_INET6, text, &to.sin6_addr) == 1;
      to_length = sizeof to;
    }
  }
  int outcome;
  if (c->closed) {
    outcome = -EBADF;
  } else if (!readable) {
    outcome = -EINVAL;
  } else {
    int room = table_room(c);
    outcome = room ? -room : start_connect((int)family, &to, to_length, (int)ttl);
  }
  if (outcome >= 0) {
    int fd = outcome;
    attempt_t *a = fault(TCP_FAULT_ATTEMPT) ? NULL : calloc(1, sizeof *a);
    int started = a ? (fault(TCP_FAULT_POLL_INIT) ? UV_EBADF : uv_poll_init_socket(c->loop, &a->poll, fd)) : UV_ENOMEM;
    if (started < 0) {
      /* Nothing of libuv's to close: the handle was not initialised. */
      free(a);
      close(fd);
      outcome = started;
    } else {
      count(&live_attempts, 1);
      a->poll.data = a;
      a->owner = c;
      a->fd = fd;
      c->handles_open += 1;
      c->holders += 1;
      uint32_t slot = c->free_count > 0 ? c->free_slots[--c->free_count] : c->used++;
      a->slot = slot;
      c->attempts[slot] = a;
      c->in_flight += 1;
      started = fault(TCP_FAULT_POLL_START) ? UV_EBADF : uv_poll_start(&a->poll, UV_WRITABLE, on_attempt_poll);
      if (started < 0) {
        end_attempt(c, a, false);
        outcome = started;
      } else {
        outcome = (int)slot;
      }
    }
  }
  CHECK(napi_create_int32(env, outcome, &result));
  return result;
}

/* cancel(slot) → true when that attempt was in flight: its socket is closed, and no outcome will come for it. */
static napi_value cancel_method(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  tcp_connector_t *c = unwrap(env, info, &argc, argv);
  if (!c) return NULL;
  int64_t slot;
  if (!get_integer(env, argv[0], "slot", 0, MAX_ATTEMPTS - 1, &slot)) return NULL;
  attempt_t *a = !c->closed && (uint64_t)slot < c->used ? c->attempts[slot] : NULL;
  if (a) end_attempt(c, a, false);
  CHECK(napi_get_boolean(env, a != NULL, &result));
  return result;
}

/* inFlight() → attempts started and not ended. */
static napi_value in_flight_method(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  tcp_connector_t *c = unwrap(env, info, &argc, NULL);
  if (!c) return NULL;
  CHECK(napi_create_uint32(env, c->in_flight, &result));
  return result;
}

static napi_value close_method(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tcp_connector_t *c = unwrap(env, info, &argc, NULL);
  if (c) close_connector(c);
  return NULL;
}

/* Construction failed after `c` was allocated: close what was opened, free it now (no handle is open yet). */
static napi_value abandon(tcp_connector_t *c) {
  close_connector(c);
  if (c->holders == 0) free_connector(c);
  return NULL;
}

/* new TcpConnector(onOutcome) */
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self, new_target, resource_name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_get_new_target(env, info, &new_target));
  if (!new_target) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED", "tcp-connect: TcpConnector must be called with new");
    return NULL;
  }
  if (!expect_type(env, argv[0], napi_function, "onOutcome", "a function")) return NULL;
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  tcp_connector_t *c = calloc(1, sizeof *c);
  if (!c) {
    napi_throw_error(env, NULL, "tcp-connect: out of memory");
    return NULL;
  }
  count(&live_connectors, 1);
  c->env = env;
  c->loop = loop;
  if (fault(TCP_FAULT_REFERENCE) || napi_create_reference(env, argv[0], 1, &c->on_outcome) != napi_ok) {
    c->on_outcome = NULL;
    napi_throw_error(env, NULL, "tcp-connect: could not hold on to the outcome callback");
    return abandon(c);
  }
  if (napi_create_string_utf8(env, "ZenSweepTcpConnect", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &c->async_context) != napi_ok) {
    c->async_context = NULL;
    napi_throw_error(env, NULL, "tcp-connect: could not set up the connector's events");
    return abandon(c);
  }
  if (fault(TCP_FAULT_CLEANUP_HOOK) || napi_add_async_cleanup_hook(env, on_teardown, c, &c->cleanup_hook) != napi_ok) {
    c->cleanup_hook = NULL;
    napi_throw_error(env, NULL, "tcp-connect: could not register the connector's teardown");
    return abandon(c);
  }
  if (fault(TCP_FAULT_WRAP) || napi_wrap(env, self, c, finalize, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "tcp-connect: napi_wrap failed");
    return abandon(c);
  }
  c->holders += 1;
  return self;
}

/* tcpConnectStats() → { connectors, attempts, teardowns }: what is still held, process-wide (for tests). */
static napi_value stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(napi_create_object(env, &result));
  if (!set_count(env, result, "connectors", &live_connectors) || !set_count(env, result, "attempts", &live_attempts) ||
      !set_count(env, result, "teardowns", &connector_teardowns)) {
    napi_throw_error(env, NULL, "tcp-connect: could not make the stats");
    return NULL;
  }
  return result;
}

/* injectTcpFault(name): the next time the process reaches that step, it fails as the system could make it (tests). */
static napi_value inject_fault(napi_env env, napi_callback_info info) {
  return inject_named_fault(env, info, TCP_FAULT_NAMES, (int)(sizeof TCP_FAULT_NAMES / sizeof TCP_FAULT_NAMES[0]),
                            &injected_tcp_fault);
}

napi_status register_tcp_connect(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"connect", NULL, connect_method, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, cancel_method, NULL, NULL, NULL, napi_default, NULL},
      {"inFlight", NULL, in_flight_method, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_method, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor, function;
  napi_status status = napi_define_class(env, "TcpConnector", NAPI_AUTO_LENGTH, construct, NULL,
                                         sizeof methods / sizeof methods[0], methods, &constructor);
  if (status == napi_ok) status = napi_set_named_property(env, exports, "TcpConnector", constructor);
  if (status == napi_ok) status = napi_create_function(env, "tcpConnectStats", NAPI_AUTO_LENGTH, stats, NULL, &function);
  if (status == napi_ok) status = napi_set_named_property(env, exports, "tcpConnectStats", function);
  if (status == napi_ok)
    status = napi_create_function(env, "injectTcpFault", NAPI_AUTO_LENGTH, inject_fault, NULL, &function);
  if (status == napi_ok) status = napi_set_named_property(env, exports, "injectTcpFault", function);
  return status;
}
