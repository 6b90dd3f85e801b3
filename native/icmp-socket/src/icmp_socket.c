/*
 * ZenSweep's ICMP socket: one raw ICMP (or ICMPv6) socket, with what raw-socket does not offer.
 *
 *  - A socket filter (classic BPF) on the echo identifier, so the kernel hands this socket only its own echo
 *    replies and the ICMP errors that quote its own requests (or a TCP or UDP packet). Every raw ICMP socket
 *    receives a copy of every ICMP message: without the filter, N agents on one host each parse all N agents'
 *    replies.
 *  - recvmmsg: every queued packet in a few calls, no exception at the end of the queue.
 *  - A sender thread: echo requests handed over in a queue and sent from another core. On loopback and fast LANs
 *    each sendto() carries the kernel's whole round trip (the reply is built and queued inside the call), so a
 *    large sweep would otherwise be bound by one core.
 *  - A full neighbour table made visible. The kernel tells a raw socket that it dropped a packet for want of
 *    buffers (ENOBUFS; a full neighbour table is one) only with IP_RECVERR set, and IPv6 fails the send with
 *    EINVAL. IP_RECVERR also copies ICMP errors to the socket's error queue, which is emptied here: the errors
 *    themselves are read as packets.
 *
 * The JS side is src/engine/icmp/icmp-socket.ts; it alone uses this.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE 32
#endif
#ifndef SO_RCVBUFFORCE
#define SO_RCVBUFFORCE 33
#endif
#define SOL_RAW_LEVEL 255
#define ICMP_FILTER_OPTION 1
#define ICMP6_FILTER_OPTION 1

/* One received packet per slot of the receive buffer; ICMP errors quote at most 576 (v4) or 1280 (v6) bytes. */
#define SLOT_BYTES 2048
#define MAX_BATCH 64
/* Per packet in the meta buffer: its length (u32, little-endian) then its source address (16 bytes). */
#define META_BYTES 20

#define ECHO_BYTES 64
#define TOKEN_BYTES 8
#define SEND_TIME_OFFSET (8 + TOKEN_BYTES + 4)


typedef struct {
  uint16_t sequence;
  uint32_t probe;
  uint8_t address[16];
} order_t;

typedef struct {
  uint16_t sequence;
  uint32_t probe;
  int error;
} send_error_t;

typedef struct {
  int fd;
  int family;
  int closed;
  napi_env env;
  napi_ref on_event;
  napi_async_context async_context;

  uv_poll_t poll;
  int poll_started;
  int poll_events;
  uv_async_t async;
  /* Freed when its two libuv handles are closed and its JS object is collected. */
  int holders;

  struct mmsghdr messages[MAX_BATCH];
  struct iovec vectors[MAX_BATCH];
  struct sockaddr_in6 names[MAX_BATCH];

  /* The sender thread and what it shares with the JS thread, under `lock`. */
  pthread_t thread;
  int thread_running;
  int stopping;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  order_t *ring;
  uint32_t ring_capacity;
  uint32_t ring_head;
  uint32_t ring_count;
  uint32_t in_hand;
  send_error_t *errors;
  uint32_t error_count;
  uint32_t error_capacity;
  uint8_t packet[ECHO_BYTES];
} icmp_socket_t;

#define CHECK(call)                                                                                                   \
  do {                                                                                                                \
    if ((call) != napi_ok) {                                                                                          \
      napi_throw_error(env, NULL, "icmp-socket: " #call " failed");                                                   \
      return NULL;                                                                                                    \
    }                                                                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_value text, code, object;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  napi_create_int32(env, error, &code);
  napi_create_error(env, NULL, text, &object);
  napi_set_named_property(env, object, "errno", code);
  napi_throw(env, object);
  return NULL;
}

static uint16_t checksum(const uint8_t *data, size_t length) {
  uint32_t sum = 0;
  size_t i = 0;
  for (; i + 1 < length; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (i < length) sum += (uint32_t)(data[i] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static double monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static socklen_t fill_address(int family, const uint8_t *address, struct sockaddr_in6 *out) {
  memset(out, 0, sizeof *out);
  if (family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    v4->sin_family = AF_INET;
    memcpy(&v4->sin_addr, address, 4);
    return sizeof *v4;
  }
  out->sin6_family = AF_INET6;
  memcpy(&out->sin6_addr, address, 16);
  return sizeof *out;
}

/* Empties the error queue (IP_RECVERR's copies of ICMP errors) and the pending error; false if the socket is bad. */
static int clear_errors(int fd) {
  uint8_t scratch[256];
  struct iovec vector = {.iov_base = scratch, .iov_len = sizeof scratch};
  for (int i = 0; i < 100000; i++) {
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
  }
  int error = 0;
  socklen_t length = sizeof error;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0;
}

/* The send failed for want of buffers: for IPv4 ENOBUFS, for IPv6 EINVAL (no neighbour entry could be made). */
static int is_shortage(int family, int error) { return error == ENOBUFS || (family == 6 && error == EINVAL); }

/* ---- the socket filter ---------------------------------------------------------------------------------------- */

/* Classic BPF jumps count instructions after the next one: JUMP_TO(from, to) is the offset from `from` to `to`. */
#define JUMP_TO(from, to) ((to) - (from) - 1)

/*
 * IPv4: the raw socket sees the IP header first. Accept an echo reply with our identifier, and an error (3, 11, 12)
 * quoting an ICMP packet with our identifier or quoting anything else (TCP, UDP: the TCP prober reads those).
 */
static int attach_filter_v4(int fd, uint16_t identifier) {
  enum { ACCEPT = 17, DROP = 18 };
  struct sock_filter code[] = {
      /* 0 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                                  /* X = IP header length */
      /* 1 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),                                   /* A = ICMP type */
      /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, JUMP_TO(2, 5)),                /* echo reply? */
      /* 3 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4),                                   /* A = its identifier */
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(4, ACCEPT), JUMP_TO(4, DROP)),
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3, JUMP_TO(5, 8), 0),                /* unreachable */
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 11, JUMP_TO(6, 8), 0),               /* time exceeded */
      /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 12, 0, JUMP_TO(7, DROP)),            /* parameter problem */
      /* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8 + 9),                               /* A = quoted protocol */
      /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, JUMP_TO(9, ACCEPT)),           /* quoted ICMP? */
      /* 10 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8),                                  /* quoted version, length */
      /* 11 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x0f),
      /* 12 */ BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 2),                                 /* quoted header length */
      /* 13 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
      /* 14 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),                                        /* X = both lengths */
      /* 15 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 8 + 4),                              /* quoted identifier */
      /* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(16, ACCEPT), JUMP_TO(16, DROP)),
      /* 17 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
      /* 18 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

/*
 * IPv6: the raw ICMPv6 socket sees the ICMPv6 message alone (RFC 3542), and its type filter lets through only echo
 * replies and errors (1 to 4). Accept an echo reply with our identifier, and an error quoting an ICMPv6 packet with
 * our identifier (next header 58 right after the quoted 40-byte header) or quoting anything else.
 */
static int attach_filter_v6(int fd, uint16_t identifier) {
  enum { ACCEPT = 8, DROP = 9 };
  struct sock_filter code[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),                                   /* A = ICMPv6 type */
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 129, 0, JUMP_TO(1, 4)),              /* echo reply? */
      /* 2 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4),                                   /* A = its identifier */
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(3, ACCEPT), JUMP_TO(3, DROP)),
      /* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8 + 6),                               /* quoted next header */
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, JUMP_TO(5, ACCEPT)),          /* quoted ICMPv6? */
      /* 6 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 8 + 40 + 4),                          /* quoted identifier */
      /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(7, ACCEPT), JUMP_TO(7, DROP)),
      /* 8 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
      /* 9 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

/* ---- the sender thread ---------------------------------------------------------------------------------------- */

static void add_error(icmp_socket_t *s, const order_t *order, int error) {
  if (s->error_count == s->error_capacity) {
    uint32_t capacity = s->error_capacity ? s->error_capacity * 2 : 64;
    send_error_t *grown = realloc(s->errors, capacity * sizeof *grown);
    if (!grown) return;
    s->errors = grown;
    s->error_capacity = capacity;
  }
  s->errors[s->error_count++] = (send_error_t){order->sequence, order->probe, error};
}

/*
 * Sends one order. Returns 0 when it is done with (sent, or failed for good: reported), 1 when told to stop first,
 * 2 when the kernel is short of buffers: the order is reported back, to be sent again after a pause.
 */
static int send_order(icmp_socket_t *s, const order_t *order) {
  uint8_t *packet = s->packet;
  struct sockaddr_in6 to;
  socklen_t to_length = fill_address(s->family, order->address, &to);
  for (;;) {
    packet[2] = packet[3] = 0;
    packet[6] = (uint8_t)(order->sequence >> 8);
    packet[7] = (uint8_t)order->sequence;
    packet[8 + TOKEN_BYTES] = (uint8_t)(order->probe >> 24);
    packet[8 + TOKEN_BYTES + 1] = (uint8_t)(order->probe >> 16);
    packet[8 + TOKEN_BYTES + 2] = (uint8_t)(order->probe >> 8);
    packet[8 + TOKEN_BYTES + 3] = (uint8_t)order->probe;
    double now = monotonic_ms();
    uint64_t bits;
    memcpy(&bits, &now, 8);
    for (int i = 0; i < 8; i++) packet[SEND_TIME_OFFSET + i] = (uint8_t)(bits >> (56 - 8 * i));
    if (s->family == 4) {
      uint16_t sum = checksum(packet, ECHO_BYTES);
      packet[2] = (uint8_t)(sum >> 8);
      packet[3] = (uint8_t)sum;
    }
    if (sendto(s->fd, packet, ECHO_BYTES, 0, (struct sockaddr *)&to, to_length) >= 0) return 0;
    int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      struct pollfd writable = {.fd = s->fd, .events = POLLOUT};
      poll(&writable, 1, 50);
      pthread_mutex_lock(&s->lock);
      int stop = s->stopping;
      pthread_mutex_unlock(&s->lock);
      if (stop) return 1;
      continue;
    }
    pthread_mutex_lock(&s->lock);
    add_error(s, order, error);
    uv_async_send(&s->async);
    pthread_mutex_unlock(&s->lock);
    return is_shortage(s->family, error) ? 2 : 0;
  }
}

static void *sender_main(void *argument) {
  icmp_socket_t *s = argument;
  order_t batch[MAX_BATCH];
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->stopping && s->ring_count == 0) pthread_cond_wait(&s->wake, &s->lock);
    if (s->stopping) break;
    uint32_t taken = 0;
    while (taken < MAX_BATCH && s->ring_count > 0) {
      batch[taken++] = s->ring[s->ring_head];
      s->ring_head = (s->ring_head + 1) % s->ring_capacity;
      s->ring_count -= 1;
    }
    s->in_hand = taken;
    pthread_mutex_unlock(&s->lock);
    for (uint32_t i = 0; i < taken; i++) {
      int outcome = send_order(s, &batch[i]);
      if (outcome == 1) {
        pthread_mutex_lock(&s->lock);
        goto stopped;
      }
      if (outcome == 2) {
        /* Short of buffers: every order not tried yet goes back too (errno 0), and the event loop pauses first. */
        pthread_mutex_lock(&s->lock);
        for (uint32_t j = i + 1; j < taken; j++) add_error(s, &batch[j], 0);
        for (; s->ring_count > 0; s->ring_count--) {
          add_error(s, &s->ring[s->ring_head], 0);
          s->ring_head = (s->ring_head + 1) % s->ring_capacity;
        }
        pthread_mutex_unlock(&s->lock);
        break;
      }
    }
    pthread_mutex_lock(&s->lock);
    s->in_hand = 0;
  }
stopped:
  s->in_hand = 0;
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- events to JS --------------------------------------------------------------------------------------------- */

static void call_js(icmp_socket_t *s, int kind) {
  if (s->closed || !s->on_event) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argument, result;
  if (napi_get_reference_value(env, s->on_event, &callback) == napi_ok && callback) {
    napi_get_global(env, &receiver);
    napi_create_int32(env, kind, &argument);
    /* make_callback, not call_function: it runs the microtasks and ticks the callback queues, as Node's own do. */
    napi_status status = napi_make_callback(env, s->async_context, receiver, callback, 1, &argument, &result);
    if (status == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void apply_poll(icmp_socket_t *s);

/* Event kinds, as icmp-socket.ts reads them. */
#define EVENT_READABLE 1
#define EVENT_WRITABLE 2
#define EVENT_SENDER 4

static void on_poll(uv_poll_t *handle, int status, int events) {
  icmp_socket_t *s = handle->data;
  if (status < 0) {
    /* libuv stops polling on POLLERR, which a pending error (IP_RECVERR) raises too: clear it and go on; a socket
       that cannot even say its error is of no more use. */
    if (s->closed || !clear_errors(s->fd)) {
      call_js(s, 0);
      return;
    }
    s->poll_started = 0;
    apply_poll(s);
    events = s->poll_events & UV_READABLE;
  }
  int kind = 0;
  if (events & UV_READABLE) kind |= EVENT_READABLE;
  if (events & UV_WRITABLE) kind |= EVENT_WRITABLE;
  if (kind) call_js(s, kind);
}

static void on_async(uv_async_t *handle) { call_js(handle->data, EVENT_SENDER); }

static void free_socket(icmp_socket_t *s) {
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  free(s->ring);
  free(s->errors);
  free(s);
}

static void release(icmp_socket_t *s) {
  if (--s->holders == 0) free_socket(s);
}

static void on_handle_closed(uv_handle_t *handle) { release(handle->data); }

static void stop_sender(icmp_socket_t *s) {
  if (!s->thread_running) return;
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  s->thread_running = 0;
}

static void close_socket(icmp_socket_t *s) {
  if (s->closed) return;
  s->closed = 1;
  stop_sender(s);
  if (s->poll_started) uv_poll_stop(&s->poll);
  close(s->fd);
  s->fd = -1;
  if (s->on_event) {
    napi_delete_reference(s->env, s->on_event);
    s->on_event = NULL;
  }
  if (s->async_context) {
    napi_async_destroy(s->env, s->async_context);
    s->async_context = NULL;
  }
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  uv_close((uv_handle_t *)&s->async, on_handle_closed);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  close_socket(data);
  release(data);
}

/* ---- methods -------------------------------------------------------------------------------------------------- */

static icmp_socket_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return data;
}

static int read_address(napi_env env, napi_value value, int family, uint8_t *out) {
  char text[64];
  size_t length;
  if (napi_get_value_string_latin1(env, value, text, sizeof text, &length) != napi_ok) return 0;
  return inet_pton(family == 4 ? AF_INET : AF_INET6, text, out) == 1;
}

/* new IcmpSocket(family, identifier, receives, onEvent): identifier -1 for no identifier filter. */
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t family, identifier;
  bool receives;
  CHECK(napi_get_value_int32(env, argv[0], &family));
  CHECK(napi_get_value_int32(env, argv[1], &identifier));
  CHECK(napi_get_value_bool(env, argv[2], &receives));
  if (family != 4 && family != 6) {
    napi_throw_range_error(env, NULL, "icmp-socket: family must be 4 or 6");
    return NULL;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
  if (fd < 0) return throw_errno(env, "socket", errno);

  int send_bytes = 4 * 1024 * 1024, receive_bytes = 16 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &send_bytes, sizeof send_bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_bytes, sizeof send_bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_bytes, sizeof receive_bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_bytes, sizeof receive_bytes);

  /* ENOBUFS reported, not hidden (see the top of this file), on a socket that reads, and so empties, its errors. */
  int on = receives;
  if (family == 4)
    setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  else
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);

  /* The kernel's own type filter first: echo replies and the errors a sweep reads, or nothing at all. */
  if (family == 4) {
    uint32_t pass = receives ? (1u << 0) | (1u << 3) | (1u << 11) | (1u << 12) : 0;
    uint32_t blocked = ~pass;
    setsockopt(fd, SOL_RAW_LEVEL, ICMP_FILTER_OPTION, &blocked, sizeof blocked);
  } else {
    uint32_t blocked[8];
    memset(blocked, 0xff, sizeof blocked);
    if (receives) {
      const int types[] = {1, 2, 3, 4, 129};
      for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) blocked[types[i] >> 5] &= ~(1u << (types[i] & 31));
    }
    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER_OPTION, blocked, sizeof blocked);
  }
  if (receives && identifier >= 0) {
    int attached = family == 4 ? attach_filter_v4(fd, (uint16_t)identifier) : attach_filter_v6(fd, (uint16_t)identifier);
    if (attached < 0) {
      int error = errno;
      close(fd);
      return throw_errno(env, "SO_ATTACH_FILTER", error);
    }
  }

  icmp_socket_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    napi_throw_error(env, NULL, "icmp-socket: out of memory");
    return NULL;
  }
  s->fd = fd;
  s->family = family;
  s->env = env;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  for (int i = 0; i < ECHO_BYTES; i++) s->packet[i] = (uint8_t)i;
  s->packet[0] = family == 4 ? 8 : 128;
  s->packet[1] = 0;
  s->packet[4] = (uint8_t)((uint32_t)identifier >> 8);
  s->packet[5] = (uint8_t)identifier;

  uv_loop_t *loop;
  napi_value resource_name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &s->on_event) != napi_ok ||
      napi_create_string_utf8(env, "ZenSweepIcmpSocket", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &s->async_context) != napi_ok) {
    close(fd);
    free_socket(s);
    napi_throw_error(env, NULL, "icmp-socket: could not set up the socket's events");
    return NULL;
  }
  uv_poll_init_socket(loop, &s->poll, fd);
  uv_async_init(loop, &s->async, on_async);
  /* The sender's wake-ups alone do not keep the process alive; outstanding echoes have timers that do. */
  uv_unref((uv_handle_t *)&s->async);
  s->poll.data = s;
  s->async.data = s;
  s->holders = 3;

  for (int i = 0; i < MAX_BATCH; i++) {
    s->messages[i].msg_hdr.msg_iov = &s->vectors[i];
    s->messages[i].msg_hdr.msg_iovlen = 1;
    s->messages[i].msg_hdr.msg_name = &s->names[i];
  }
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    s->holders -= 1;
    close_socket(s);
    napi_throw_error(env, NULL, "icmp-socket: napi_wrap failed");
    return NULL;
  }
  return self;
}

static void apply_poll(icmp_socket_t *s) {
  if (s->closed) return;
  if (s->poll_events) {
    uv_poll_start(&s->poll, s->poll_events, on_poll);
    s->poll_started = 1;
  } else if (s->poll_started) {
    uv_poll_stop(&s->poll);
    s->poll_started = 0;
  }
}

/* watch(readable, writable) */
static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  bool readable, writable;
  CHECK(napi_get_value_bool(env, argv[0], &readable));
  CHECK(napi_get_value_bool(env, argv[1], &writable));
  s->poll_events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  apply_poll(s);
  return NULL;
}

/* send(packet, address) → 0, or the errno of the failed sendto (EAGAIN when the socket buffer is full). */
static napi_value send_now(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  void *data;
  size_t length;
  uint8_t address[16];
  CHECK(napi_get_buffer_info(env, argv[0], &data, &length));
  int error = 0;
  if (s->closed) {
    error = EBADF;
  } else if (!read_address(env, argv[1], s->family, address)) {
    error = EINVAL;
  } else {
    struct sockaddr_in6 to;
    socklen_t to_length = fill_address(s->family, address, &to);
    while (sendto(s->fd, data, length, 0, (struct sockaddr *)&to, to_length) < 0) {
      if (errno != EINTR) {
        error = errno;
        break;
      }
    }
  }
  CHECK(napi_create_int32(env, error, &result));
  return result;
}

/*
 * receive(buffer, meta) → how many packets were read (0 when none is queued). Packet i is at buffer offset
 * i × 2048; meta holds its length (u32 LE) at i × 20 and its source address (4 or 16 bytes) at i × 20 + 4.
 * A negative result is -errno.
 */
static napi_value receive(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint8_t *buffer, *meta;
  size_t buffer_length, meta_length;
  CHECK(napi_get_buffer_info(env, argv[0], (void **)&buffer, &buffer_length));
  CHECK(napi_get_buffer_info(env, argv[1], (void **)&meta, &meta_length));
  size_t slots = buffer_length / SLOT_BYTES;
  if (meta_length / META_BYTES < slots) slots = meta_length / META_BYTES;
  if (slots > MAX_BATCH) slots = MAX_BATCH;
  int count = 0;
  if (!s->closed && slots > 0) {
    for (size_t i = 0; i < slots; i++) {
      s->vectors[i].iov_base = buffer + i * SLOT_BYTES;
      s->vectors[i].iov_len = SLOT_BYTES;
      s->messages[i].msg_hdr.msg_namelen = sizeof s->names[i];
      s->messages[i].msg_hdr.msg_flags = 0;
    }
    /* A pending error (IP_RECVERR: each ICMP error quoting an ICMP packet sets one, and recvmmsg reports it before
       any packet) is cleared and the read tried again, for as long as errors keep coming; the packets are all read,
       the ICMP errors among them. Only a socket that fails again and again is given up on (-errno). */
    for (int errors = 0;;) {
      count = recvmmsg(s->fd, s->messages, (unsigned)slots, MSG_DONTWAIT, NULL);
      if (count >= 0) break;
      int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        count = 0;
        break;
      }
      if (error == EINTR) continue;
      if (++errors > 1024 || !clear_errors(s->fd)) {
        count = -error;
        break;
      }
    }
    for (int i = 0; i < count; i++) {
      uint32_t length = s->messages[i].msg_len;
      uint8_t *entry = meta + i * META_BYTES;
      memcpy(entry, &length, 4);
      if (s->family == 4)
        memcpy(entry + 4, &((struct sockaddr_in *)&s->names[i])->sin_addr, 4);
      else
        memcpy(entry + 4, &s->names[i].sin6_addr, 16);
    }
  }
  CHECK(napi_create_int32(env, count, &result));
  return result;
}

/* startSender(token) → true once the sender thread runs. */
static napi_value start_sender(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  void *token;
  size_t token_length;
  CHECK(napi_get_buffer_info(env, argv[0], &token, &token_length));
  if (!s->thread_running && !s->closed && token_length >= TOKEN_BYTES) {
    memcpy(s->packet + 8, token, TOKEN_BYTES);
    s->ring_capacity = 1024;
    s->ring = calloc(s->ring_capacity, sizeof *s->ring);
    if (s->ring && pthread_create(&s->thread, NULL, sender_main, s) == 0) s->thread_running = 1;
  }
  CHECK(napi_get_boolean(env, s->thread_running, &result));
  return result;
}

/*
 * order(sequence, probeNumber, address, limit) → the orders not yet sent, this one included; -1 when refused: no
 * sender thread, a bad address, or `limit` orders already waiting (the caller then sends it itself).
 */
static napi_value order(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t sequence, probe, limit;
  order_t entry;
  CHECK(napi_get_value_uint32(env, argv[0], &sequence));
  CHECK(napi_get_value_uint32(env, argv[1], &probe));
  CHECK(napi_get_value_uint32(env, argv[3], &limit));
  int32_t waiting = -1;
  if (s->thread_running && read_address(env, argv[2], s->family, entry.address)) {
    entry.sequence = (uint16_t)sequence;
    entry.probe = probe;
    pthread_mutex_lock(&s->lock);
    if (s->ring_count + s->in_hand >= limit) {
      pthread_mutex_unlock(&s->lock);
      CHECK(napi_create_int32(env, -1, &result));
      return result;
    }
    if (s->ring_count == s->ring_capacity) {
      uint32_t capacity = s->ring_capacity * 2;
      order_t *grown = malloc(capacity * sizeof *grown);
      if (grown) {
        for (uint32_t i = 0; i < s->ring_count; i++) grown[i] = s->ring[(s->ring_head + i) % s->ring_capacity];
        free(s->ring);
        s->ring = grown;
        s->ring_capacity = capacity;
        s->ring_head = 0;
      }
    }
    if (s->ring_count < s->ring_capacity) {
      s->ring[(s->ring_head + s->ring_count) % s->ring_capacity] = entry;
      s->ring_count += 1;
      if (s->ring_count == 1) pthread_cond_signal(&s->wake);
      waiting = (int32_t)(s->ring_count + s->in_hand);
    }
    pthread_mutex_unlock(&s->lock);
  }
  CHECK(napi_create_int32(env, waiting, &result));
  return result;
}

/*
 * takeSenderEvents() → [sequence, probeNumber, errno, sequence, probeNumber, errno, …]: the orders whose send failed
 * since the last call; errno 0 for an order given back untried when the kernel was short of buffers.
 */
static napi_value take_sender_events(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  icmp_socket_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  napi_value result, value;
  /* Under the lock, without a copy: the thread waits for these few calls rather than an error being dropped. */
  pthread_mutex_lock(&s->lock);
  uint32_t count = s->error_count;
  if (napi_create_array_with_length(env, 3 * count, &result) != napi_ok) {
    pthread_mutex_unlock(&s->lock);
    napi_throw_error(env, NULL, "icmp-socket: could not make the array of send errors");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_create_uint32(env, s->errors[i].sequence, &value);
    napi_set_element(env, result, 3 * i, value);
    napi_create_uint32(env, s->errors[i].probe, &value);
    napi_set_element(env, result, 3 * i + 1, value);
    napi_create_int32(env, s->errors[i].error, &value);
    napi_set_element(env, result, 3 * i + 2, value);
  }
  s->error_count = 0;
  pthread_mutex_unlock(&s->lock);
  return result;
}

static napi_value close_method(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  icmp_socket_t *s = unwrap(env, info, &argc, NULL);
  if (s) close_socket(s);
  return NULL;
}

/* addressText(meta, index, family) → the source address of packet `index` as text. */
static napi_value address_text(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *meta;
  size_t meta_length;
  uint32_t index;
  int32_t family;
  CHECK(napi_get_buffer_info(env, argv[0], (void **)&meta, &meta_length));
  CHECK(napi_get_value_uint32(env, argv[1], &index));
  CHECK(napi_get_value_int32(env, argv[2], &family));
  char text[INET6_ADDRSTRLEN] = "";
  if ((size_t)(index + 1) * META_BYTES <= meta_length)
    inet_ntop(family == 4 ? AF_INET : AF_INET6, meta + index * META_BYTES + 4, text, sizeof text);
  CHECK(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, send_now, NULL, NULL, NULL, napi_default, NULL},
      {"receive", NULL, receive, NULL, NULL, NULL, napi_default, NULL},
      {"startSender", NULL, start_sender, NULL, NULL, NULL, napi_default, NULL},
      {"order", NULL, order, NULL, NULL, NULL, napi_default, NULL},
      {"takeSenderEvents", NULL, take_sender_events, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_method, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor, function, constant;
  CHECK(napi_define_class(env, "IcmpSocket", NAPI_AUTO_LENGTH, construct, NULL, sizeof methods / sizeof methods[0],
                          methods, &constructor));
  CHECK(napi_set_named_property(env, exports, "IcmpSocket", constructor));
  CHECK(napi_create_function(env, "addressText", NAPI_AUTO_LENGTH, address_text, NULL, &function));
  CHECK(napi_set_named_property(env, exports, "addressText", function));
  CHECK(napi_create_uint32(env, SLOT_BYTES, &constant));
  CHECK(napi_set_named_property(env, exports, "SLOT_BYTES", constant));
  CHECK(napi_create_uint32(env, META_BYTES, &constant));
  CHECK(napi_set_named_property(env, exports, "META_BYTES", constant));
  CHECK(napi_create_uint32(env, MAX_BATCH, &constant));
  CHECK(napi_set_named_property(env, exports, "MAX_BATCH", constant));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
