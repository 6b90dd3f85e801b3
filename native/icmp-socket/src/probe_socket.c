/*
 * Datagram probe sockets for a trace and a path MTU search without privilege: a Linux ping socket (SOCK_DGRAM +
 * IPPROTO_ICMP / IPPROTO_ICMPV6, which any process whose group net.ipv4.ping_group_range covers may open) or a plain
 * UDP socket (no privilege at all), each with IP_RECVERR (IPV6_RECVERR), as mtr and traceroute use them unprivileged.
 *
 *  - The hop limit is the socket's (IP_TTL, IPV6_UNICAST_HOPS), set just before each send: sends are synchronous
 *    sendto() calls on the event loop's thread, so the TTL set is the one that packet carries.
 *  - ICMP errors about the socket's own datagrams (time exceeded, unreachable, fragmentation needed / packet too
 *    big with the MTU in ee_info) come on the socket's error queue with who sent them (SO_EE_OFFENDER), the
 *    destination the datagram went to (msg_name) and, as data, the datagram as the router quoted it: for a ping
 *    socket from its ICMP header (the sequence), for a UDP socket from its payload (after the UDP header).
 *  - Don't Fragment at any size up to the interface's MTU (IP_PMTUDISC_PROBE): a path MTU search sends sizes above
 *    the path MTU the kernel has learnt, and the router's answer, not the kernel's cache, says what passes.
 *  - Each ICMP error also sets the socket's pending error (sk_err), which the next send or empty read would return
 *    instead of doing its work; a send clears it first (SO_ERROR) and, failing with it anyway (an error that came in
 *    between), tries again (SEND_ATTEMPTS): an errno that comes every time is the send's own (no route, EMSGSIZE over
 *    the interface MTU).
 *
 * One uv_poll per socket, readable: an error queued wakes it too (POLLERR). The JS side reads with `read` until it
 * returns undefined. Life and death as tcp_connect.c: every argument checked, the handle closed before the memory
 * goes, an environment torn down closes the socket and holds the teardown until its handle is closed.
 *
 * The JS side is src/engine/trace/probe-socket.ts.
 */
#define _GNU_SOURCE
#include "probe_socket.h"
#define ADDON_PART "probe-socket"
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

#ifndef IP_PMTUDISC_PROBE
#define IP_PMTUDISC_PROBE 3
#endif
#ifndef IPV6_PMTUDISC_PROBE
#define IPV6_PMTUDISC_PROBE 3
#endif
#ifndef IPV6_DONTFRAG
#define IPV6_DONTFRAG 62
#endif

/*
 * Sends tried at most per `send`: each failure with another errno than the buffers' may be the pending error of an
 * ICMP error that came in since the last clear (errors come in at line rate on a busy path); the send's own errno
 * (no route, EMSGSIZE) comes every time.
 */
#define SEND_ATTEMPTS 4

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int family;
  int closed;
  /* The hop limit last set, -1 for the system's default. */
  int hops;
  bool handle_open;
  napi_ref on_readable;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
  napi_async_cleanup_hook_handle teardown;
  /* Freed when 0: one for the open handle, one for the JS object. */
  int holders;
} probe_socket_t;

static int live_probe_sockets, probe_socket_teardowns;


static probe_socket_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || !data) {
    throw_type(env, "this", "a ProbeSocket");
    return NULL;
  }
  return data;
}

/* An address of `family` in text, into a sockaddr with `port`; false when it is not one. */
static bool address_of(napi_env env, napi_value value, int family, int port, struct sockaddr_in6 *to, socklen_t *length,
                       bool *ok) {
  *ok = false;
  if (!expect_type(env, value, napi_string, "address", "a string")) return false;
  char text[64];
  size_t text_length = 0;
  if (napi_get_value_string_latin1(env, value, NULL, 0, &text_length) != napi_ok) return false;
  memset(to, 0, sizeof *to);
  if (text_length >= sizeof text) return true;
  if (napi_get_value_string_latin1(env, value, text, sizeof text, &text_length) != napi_ok) return false;
  if (family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)to;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *ok = inet_pton(AF_INET, text, &v4->sin_addr) == 1;
    *length = sizeof *v4;
  } else {
    to->sin6_family = AF_INET6;
    to->sin6_port = htons((uint16_t)port);
    *ok = inet_pton(AF_INET6, text, &to->sin6_addr) == 1;
    *length = sizeof *to;
  }
  return true;
}

/* A sockaddr (v4 or v6) as text and port; "" when it is neither. */
static void text_of(const struct sockaddr_storage *address, socklen_t length, char *text, size_t size, int *port) {
  text[0] = '\0';
  *port = 0;
  if (address->ss_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
    if (!inet_ntop(AF_INET, &v4->sin_addr, text, (socklen_t)size)) text[0] = '\0';
    *port = ntohs(v4->sin_port);
  } else if (address->ss_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
    if (!inet_ntop(AF_INET6, &v6->sin6_addr, text, (socklen_t)size)) text[0] = '\0';
    *port = ntohs(v6->sin6_port);
  }
}

/* ---- life and death ------------------------------------------------------------------------------------------- */

static void release(probe_socket_t *s) {
  if (--s->holders == 0) {
    free(s);
    count(&live_probe_sockets, -1);
  }
}

static void on_closed(uv_handle_t *handle) {
  probe_socket_t *s = handle->data;
  s->handle_open = false;
  if (s->teardown) {
    napi_async_cleanup_hook_handle teardown = s->teardown;
    s->teardown = NULL;
    napi_remove_async_cleanup_hook(teardown);
  }
  release(s);
}

static void close_socket(probe_socket_t *s) {
  if (s->closed) return;
  s->closed = 1;
  if (s->handle_open) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_closed);
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  if (s->on_readable) {
    napi_delete_reference(s->env, s->on_readable);
    s->on_readable = NULL;
  }
  if (s->async_context) {
    napi_async_destroy(s->env, s->async_context);
    s->async_context = NULL;
  }
  if (s->cleanup_hook) {
    napi_remove_async_cleanup_hook(s->cleanup_hook);
    s->cleanup_hook = NULL;
  }
}

static void on_teardown(napi_async_cleanup_hook_handle handle, void *argument) {
  probe_socket_t *s = argument;
  s->cleanup_hook = NULL;
  count(&probe_socket_teardowns, 1);
  bool waiting = s->handle_open;
  close_socket(s);
  if (!waiting) {
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  s->teardown = handle;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  close_socket(data);
  release(data);
}

/* ---- events --------------------------------------------------------------------------------------------------- */

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  probe_socket_t *s = handle->data;
  if (s->closed || !s->on_readable) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, result;
  if (napi_get_reference_value(env, s->on_readable, &callback) == napi_ok && callback &&
      napi_get_global(env, &receiver) == napi_ok) {
    napi_status called = napi_make_callback(env, s->async_context, receiver, callback, 0, NULL, &result);
    if (called == napi_pending_exception) {
      napi_value thrown;
      napi_valuetype type = napi_undefined;
      if (napi_get_and_clear_last_exception(env, &thrown) == napi_ok && napi_typeof(env, thrown, &type) == napi_ok &&
          type != napi_undefined && type != napi_null) {
        napi_fatal_exception(env, thrown);
      }
    }
  }
  napi_close_handle_scope(env, scope);
  /* libuv stops a poll on POLLERR; the callback has read the queue, so poll again while open. */
  if (!s->closed && s->handle_open && !uv_is_active((uv_handle_t *)&s->poll)) {
    if (uv_poll_start(&s->poll, UV_READABLE, on_poll) != 0) close_socket(s);
  }
}

/* ---- methods -------------------------------------------------------------------------------------------------- */

/* The socket's pending error (set by each ICMP error it gets), cleared. */
static void clear_pending(int fd) {
  int pending = 0;
  socklen_t length = sizeof pending;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &length);
}

static int set_hops(probe_socket_t *s, int hops) {
  if (hops == s->hops) return 0;
  int set = s->family == 4 ? setsockopt(s->fd, IPPROTO_IP, IP_TTL, &hops, sizeof hops)
                           : setsockopt(s->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
  if (set != 0) return errno;
  s->hops = hops;
  return 0;
}

/*
 * send(packet, address, port, hops) → 0, or the errno of the failed send (EBADF once closed, EINVAL for an address
 * not of the socket's family). hops 0: the system's default hop limit, else 1 to 255. port: the UDP destination
 * port (a ping socket's is 0).
 */
static napi_value send_method(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  probe_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  bool is_buffer = false;
  CHECK(napi_is_buffer(env, argv[0], &is_buffer));
  if (!is_buffer) {
    throw_type(env, "packet", "a Buffer");
    return NULL;
  }
  void *data;
  size_t length;
  CHECK(napi_get_buffer_info(env, argv[0], &data, &length));
  int64_t port, hops;
  if (!get_integer(env, argv[2], "port", 0, 65535, &port) || !get_integer(env, argv[3], "hops", 0, 255, &hops)) return NULL;
  struct sockaddr_in6 to;
  socklen_t to_length = 0;
  bool readable;
  if (!address_of(env, argv[1], s->family, (int)port, &to, &to_length, &readable)) return NULL;
  int error = 0;
  if (s->closed) {
    error = EBADF;
  } else if (!readable) {
    error = EINVAL;
  } else {
    error = set_hops(s, hops == 0 ? -1 : (int)hops);
    for (int attempt = 0; error == 0 && attempt < SEND_ATTEMPTS; attempt++) {
      clear_pending(s->fd);
      if (sendto(s->fd, data, length, 0, (const struct sockaddr *)&to, to_length) >= 0) break;
      error = errno;
      /* EINTR or the pending error of an ICMP error that came in between: again; EAGAIN and ENOBUFS are the caller's. */
      if (attempt + 1 < SEND_ATTEMPTS && error != EAGAIN && error != ENOBUFS) error = 0;
      else break;
    }
  }
  CHECK(napi_create_int32(env, error, &result));
  return result;
}

/* dontFragment() → 0, or the errno: Don't Fragment at any size up to the interface MTU (PMTUDISC_PROBE). */
static napi_value dont_fragment_method(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  probe_socket_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  int error = 0;
  if (s->closed) {
    error = EBADF;
  } else if (s->family == 4) {
    int probe = IP_PMTUDISC_PROBE;
    if (setsockopt(s->fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe) != 0) error = errno;
  } else {
    int probe = IPV6_PMTUDISC_PROBE, on = 1;
    if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof probe) != 0 ||
        setsockopt(s->fd, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on) != 0) {
      error = errno;
    }
  }
  CHECK(napi_create_int32(env, error, &result));
  return result;
}

/* bind(port) → the local port bound (a ping socket's is its echo identifier), or -errno. port 0: the kernel's pick. */
static napi_value bind_method(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  probe_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  int64_t port;
  if (!get_integer(env, argv[0], "port", 0, 65535, &port)) return NULL;
  int outcome;
  if (s->closed) {
    outcome = -EBADF;
  } else {
    struct sockaddr_storage local;
    memset(&local, 0, sizeof local);
    socklen_t length;
    if (s->family == 4) {
      struct sockaddr_in *v4 = (struct sockaddr_in *)&local;
      v4->sin_family = AF_INET;
      v4->sin_port = htons((uint16_t)port);
      length = sizeof *v4;
    } else {
      struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&local;
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons((uint16_t)port);
      length = sizeof *v6;
    }
    if (bind(s->fd, (struct sockaddr *)&local, length) != 0) {
      outcome = -errno;
    } else {
      length = sizeof local;
      char text[INET6_ADDRSTRLEN];
      int bound = 0;
      if (getsockname(s->fd, (struct sockaddr *)&local, &length) != 0) outcome = -errno;
      else {
        text_of(&local, length, text, sizeof text, &bound);
        outcome = bound;
      }
    }
  }
  CHECK(napi_create_int32(env, outcome, &result));
  return result;
}

static bool set_string(napi_env env, napi_value object, const char *name, const char *text) {
  napi_value value;
  return napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &value) == napi_ok &&
         napi_set_named_property(env, object, name, value) == napi_ok;
}

static bool set_number(napi_env env, napi_value object, const char *name, double number) {
  napi_value value;
  return napi_create_double(env, number, &value) == napi_ok && napi_set_named_property(env, object, name, value) == napi_ok;
}

/*
 * read(buffer) → undefined when nothing is queued; else one record, the error queue first:
 *  { kind: 'data', bytes, address, port }: a datagram (a ping socket's: the echo reply from its ICMP header) from
 *    address:port, its first `bytes` bytes in `buffer`;
 *  { kind: 'icmp', bytes, address, port, type, code, errno, info, offender }: an ICMP error about a datagram sent to
 *    address:port, sent by `offender`, the datagram as quoted in `buffer` (see the top of this file);
 *  { kind: 'local', …, errno, info }: the sweeper's own stack (EMSGSIZE with the MTU in info).
 */
static napi_value read_method(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  probe_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  bool is_buffer = false;
  CHECK(napi_is_buffer(env, argv[0], &is_buffer));
  if (!is_buffer) {
    throw_type(env, "buffer", "a Buffer");
    return NULL;
  }
  void *data;
  size_t length;
  CHECK(napi_get_buffer_info(env, argv[0], &data, &length));
  CHECK(napi_get_undefined(env, &result));
  if (s->closed) return result;
  struct sockaddr_storage from;
  union {
    struct cmsghdr align;
    uint8_t bytes[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6)) + 256];
  } control;
  struct iovec vector = {.iov_base = data, .iov_len = length};
  struct msghdr message;
  ssize_t got = -1;
  bool queued = false;
  /* The error queue first: an empty ordinary read would return the pending error instead of EAGAIN. */
  for (int pass = 0; pass < 4 && got < 0; pass++) {
    memset(&message, 0, sizeof message);
    message.msg_name = &from;
    message.msg_namelen = sizeof from;
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes;
    message.msg_controllen = sizeof control.bytes;
    queued = pass % 2 == 0;
    got = recvmsg(s->fd, &message, MSG_DONTWAIT | (queued ? MSG_ERRQUEUE : 0));
    if (got < 0 && errno == EAGAIN && !queued && pass > 0) break;
  }
  if (got < 0) return result;
  char text[INET6_ADDRSTRLEN];
  int port = 0;
  text_of(&from, message.msg_namelen, text, sizeof text, &port);
  size_t bytes = (size_t)got < length ? (size_t)got : length;
  CHECK(napi_create_object(env, &result));
  if (!set_number(env, result, "bytes", (double)bytes) || !set_string(env, result, "address", text) ||
      !set_number(env, result, "port", port)) {
    return NULL;
  }
  if (!queued) {
    if (!set_string(env, result, "kind", "data")) return NULL;
    return result;
  }
  const char *kind = "local";
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message); cmsg; cmsg = CMSG_NXTHDR(&message, cmsg)) {
    bool v4 = cmsg->cmsg_level == SOL_IP && cmsg->cmsg_type == IP_RECVERR;
    bool v6 = cmsg->cmsg_level == SOL_IPV6 && cmsg->cmsg_type == IPV6_RECVERR;
    if ((!v4 && !v6) || cmsg->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err))) continue;
    struct sock_extended_err error;
    memcpy(&error, CMSG_DATA(cmsg), sizeof error);
    bool icmp = error.ee_origin == SO_EE_ORIGIN_ICMP || error.ee_origin == SO_EE_ORIGIN_ICMP6;
    kind = icmp ? "icmp" : "local";
    char offender[INET6_ADDRSTRLEN] = "";
    size_t header = CMSG_LEN(sizeof error);
    if (cmsg->cmsg_len > header) {
      struct sockaddr_storage who;
      memset(&who, 0, sizeof who);
      size_t available = cmsg->cmsg_len - header;
      memcpy(&who, CMSG_DATA(cmsg) + sizeof error, available < sizeof who ? available : sizeof who);
      int ignored;
      text_of(&who, (socklen_t)(available < sizeof who ? available : sizeof who), offender, sizeof offender, &ignored);
    }
    if (!set_number(env, result, "type", error.ee_type) || !set_number(env, result, "code", error.ee_code) ||
        !set_number(env, result, "errno", error.ee_errno) || !set_number(env, result, "info", error.ee_info) ||
        !set_string(env, result, "offender", offender)) {
      return NULL;
    }
    break;
  }
  if (!set_string(env, result, "kind", kind)) return NULL;
  return result;
}

static napi_value close_method(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  probe_socket_t *s = unwrap(env, info, &argc, NULL);
  if (s) close_socket(s);
  return NULL;
}

/* Construction failed after `s` was allocated: close what was opened; freed now when no handle holds it. */
static napi_value abandon(probe_socket_t *s) {
  close_socket(s);
  release(s);
  return NULL;
}

/*
 * new ProbeSocket(family, protocol, onReadable): protocol 'icmp' (a ping socket) or 'udp'. onReadable() is called
 * when a datagram or an error is queued: read them all. Throws an Error with `errno` when the socket cannot be opened
 * (a ping socket: EACCES where net.ipv4.ping_group_range leaves the process out).
 */
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, new_target, resource_name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_get_new_target(env, info, &new_target));
  if (!new_target) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED", "probe-socket: ProbeSocket must be called with new");
    return NULL;
  }
  int64_t family;
  if (!get_integer(env, argv[0], "family", 4, 6, &family)) return NULL;
  if (family == 5) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "probe-socket: family must be 4 or 6");
    return NULL;
  }
  if (!expect_type(env, argv[1], napi_string, "protocol", "'icmp' or 'udp'")) return NULL;
  char protocol[8];
  size_t protocol_length = 0;
  CHECK(napi_get_value_string_latin1(env, argv[1], protocol, sizeof protocol, &protocol_length));
  bool icmp = strcmp(protocol, "icmp") == 0;
  if (!icmp && strcmp(protocol, "udp") != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "probe-socket: protocol must be 'icmp' or 'udp'");
    return NULL;
  }
  if (!expect_type(env, argv[2], napi_function, "onReadable", "a function")) return NULL;
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int domain = family == 4 ? AF_INET : AF_INET6;
  int number = icmp ? (family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6) : IPPROTO_UDP;
  int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, number);
  if (fd < 0) return throw_errno(env, icmp ? "socket (ping)" : "socket (udp)", errno);
  int on = 1;
  if ((family == 4 ? setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on)
                   : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on)) != 0) {
    int error = errno;
    close(fd);
    return throw_errno(env, "IP_RECVERR", error);
  }
  probe_socket_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    napi_throw_error(env, NULL, "probe-socket: out of memory");
    return NULL;
  }
  count(&live_probe_sockets, 1);
  s->env = env;
  s->fd = fd;
  s->family = (int)family;
  s->hops = -1;
  s->holders = 1; /* construction's own, handed to the JS object by napi_wrap */
  if (napi_create_reference(env, argv[2], 1, &s->on_readable) != napi_ok) {
    s->on_readable = NULL;
    napi_throw_error(env, NULL, "probe-socket: could not hold on to the callback");
    return abandon(s);
  }
  if (napi_create_string_utf8(env, "ZenSweepProbeSocket", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &s->async_context) != napi_ok) {
    s->async_context = NULL;
    napi_throw_error(env, NULL, "probe-socket: could not set up the socket's events");
    return abandon(s);
  }
  if (napi_add_async_cleanup_hook(env, on_teardown, s, &s->cleanup_hook) != napi_ok) {
    s->cleanup_hook = NULL;
    napi_throw_error(env, NULL, "probe-socket: could not register the socket's teardown");
    return abandon(s);
  }
  int started = uv_poll_init_socket(loop, &s->poll, fd);
  if (started < 0) {
    throw_errno(env, "uv_poll_init_socket", -started);
    return abandon(s);
  }
  s->poll.data = s;
  s->handle_open = true;
  s->holders += 1;
  started = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (started < 0) {
    throw_errno(env, "uv_poll_start", -started);
    return abandon(s);
  }
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "probe-socket: napi_wrap failed");
    return abandon(s);
  }
  return self;
}

/* probeSocketStats() → { sockets, teardowns }: sockets not yet freed, and those an environment's teardown closed (tests). */
static napi_value stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(napi_create_object(env, &result));
  if (!set_count(env, result, "sockets", &live_probe_sockets) ||
      !set_count(env, result, "teardowns", &probe_socket_teardowns)) {
    napi_throw_error(env, NULL, "probe-socket: could not make the stats");
    return NULL;
  }
  return result;
}

napi_status register_probe_socket(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"send", NULL, send_method, NULL, NULL, NULL, napi_default, NULL},
      {"read", NULL, read_method, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, bind_method, NULL, NULL, NULL, napi_default, NULL},
      {"dontFragment", NULL, dont_fragment_method, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_method, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor, function;
  napi_status status = napi_define_class(env, "ProbeSocket", NAPI_AUTO_LENGTH, construct, NULL,
                                         sizeof methods / sizeof methods[0], methods, &constructor);
  if (status == napi_ok) status = napi_set_named_property(env, exports, "ProbeSocket", constructor);
  if (status == napi_ok) status = napi_create_function(env, "probeSocketStats", NAPI_AUTO_LENGTH, stats, NULL, &function);
  if (status == napi_ok) status = napi_set_named_property(env, exports, "probeSocketStats", function);
  return status;
}
